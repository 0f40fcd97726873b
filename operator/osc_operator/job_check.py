"""A job that does not compile: reported as `Ready=False, reason JobInvalid` with the
compiler's message.

The runtime checks the job at start (it compiles it against the adaptor's exports). In the
operator's pods it runs with OSC_ON_INVALID_JOB=exit: an invalid job makes the runtime
container write the message to its termination message and exit with EXIT_CODE, so Kubernetes
keeps the message in the pod's status (`state`/`lastState.terminated.message`) while it backs
off restarting it. The operator cannot run node itself; it reads that status, as it reads a
failed adaptor install.
"""

from __future__ import annotations

from typing import Any

from osc_operator import kube

REASON = "JobInvalid"
EXIT_CODE = 3  # osc_runtime.invalid_job.EXIT_CODE
MESSAGE_PREFIX = "job invalid: "
RUNTIME_CONTAINER = "runtime"
JOB_CHECKSUM = "osc.openfn.org/job-checksum"


def runtime_settings() -> list[dict[str, str]]:
    """The runtime container's environment for it: exit (and say why) on an invalid job."""
    return [{"name": "OSC_ON_INVALID_JOB", "value": "exit"}]


def job_invalid(pod: dict[str, Any], job_checksum: str | None = None) -> str | None:
    """The compiler's message when this pod's runtime found its job invalid, else None.
    With `job_checksum`, a pod running another version of the job (an older spec) does not
    count."""
    annotations = pod.get("metadata", {}).get("annotations") or {}
    if job_checksum is not None and annotations.get(JOB_CHECKSUM) not in (None, job_checksum):
        return None
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") != RUNTIME_CONTAINER:
            continue
        if (status.get("state") or {}).get("running") and status.get("ready"):
            return None  # it runs now, whatever an earlier attempt said
        for state in (status.get("state"), status.get("lastState")):
            terminated = (state or {}).get("terminated")
            if terminated and terminated.get("exitCode") == EXIT_CODE:
                return _message(terminated)
    return None


def _message(terminated: dict[str, Any]) -> str:
    lines = [line.strip() for line in (terminated.get("message") or "").splitlines()]
    text = next((line for line in lines if line.startswith(MESSAGE_PREFIX)), "")
    return text.removeprefix(MESSAGE_PREFIX) or "the job does not compile (see the pod's log)"


def find_job_invalid(client: kube.Kube, body: dict[str, Any], selector: dict[str, str],
                     job_checksum: str | None) -> str | None:
    """The compiler's message from any pod of this OpenFnJob that found its job invalid."""
    found = (job_invalid(pod, job_checksum)
             for pod in kube.pods_of(client, body["metadata"]["namespace"], selector))
    return next((message for message in found if message), None)
