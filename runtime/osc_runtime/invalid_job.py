"""What the runtime does when its job does not compile (OSC_ON_INVALID_JOB).

`serve` (the default): stay up, /readyz and the inbox answer 503 with the compiler's message.
`exit` (what the operator sets): write the message to the container's termination message
(OSC_TERMINATION_MESSAGE_PATH, Kubernetes' /dev/termination-log) and exit with EXIT_CODE, so the
pod's status carries it (`lastState.terminated.message`) and the operator reports the OpenFnJob
`Ready=False, reason JobInvalid` with that message. Restarting cannot fix the job; Kubernetes
backs off between restarts (CrashLoopBackOff), each of which checks the job again.
"""

from __future__ import annotations

import logging
import os
import signal

from osc_runtime.settings import Settings

EXIT_CODE = 3  # the job is invalid (2: a setting is; 1: something else failed)
MESSAGE_PREFIX = "job invalid: "

log = logging.getLogger("osc_runtime")


def stop_for_invalid_job(settings: Settings, message: str) -> bool:
    """With OSC_ON_INVALID_JOB=exit: record the message and stop the process (True)."""
    if settings.on_invalid_job != "exit":
        return False
    try:
        settings.termination_message_path.write_text(MESSAGE_PREFIX + message, encoding="utf-8")
    except OSError as error:  # not in a container: the log still has it
        log.warning("cannot write the termination message to %s: %s",
                    settings.termination_message_path, error.strerror)
    os.kill(os.getpid(), signal.SIGTERM)  # a graceful stop; serve then exits with EXIT_CODE
    return True
