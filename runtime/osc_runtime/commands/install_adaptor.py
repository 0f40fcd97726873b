"""Install the adaptor OSC_ADAPTOR names into OSC_ADAPTORS_DIR, then exit (init containers).

`python -m osc_runtime install-adaptor`: the operator runs this in an init container (same
image) with OSC_ADAPTORS_DIR on a shared emptyDir, so the runtime container starts with the
adaptor already there and can keep a read-only root filesystem (it runs with
OSC_ADAPTOR_INSTALL=never). It is the runtime's own code path: the same checks, the same npm
command, the same folder layout.

Exit 0 when the adaptor is installed or already present; 1 with the reason (npm's message) as
the last line on stderr otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from osc_runtime.adaptors import AdaptorError, ensure_adaptor
from osc_runtime.cli import command_parser
from osc_runtime.settings import Settings, SettingsError, load

# Installing needs only the adaptor settings: the job, its credential and the API keys are the
# runtime container's business and are usually not given to the init container.
_NOT_NEEDED = {
    "job": "",
    "job_path": None,
    "workflow_path": None,
    "auth": "none",
    "api_keys": None,
    "api_keys_path": None,
    "credential": None,
    "credential_path": None,
}


ADAPTOR_SETTINGS = ("adaptor", "adaptors_dir", "adaptor_install", "node_modules", "node_binary",
                    "npm_registry", "npmrc_path")


def main(argv: list[str]) -> int:
    command_parser("osc-runtime install-adaptor", __doc__, Settings,
                   only=ADAPTOR_SETTINGS).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        settings = load(**_NOT_NEEDED)
        resolved = asyncio.run(ensure_adaptor(settings))
    except (SettingsError, AdaptorError) as error:
        print(f"install-adaptor: {error}", file=sys.stderr)
        return 1
    print(f"{resolved.spec} ({resolved.source}) at {resolved.path}")
    return 0
