"""The jobs that run after this one, as they are now: a targets file is read again on change.

The operator hands an upstream job its flow targets in a ConfigMap mounted as a volume, so a
downstream job appearing, changing or going away never restarts the upstream's pods (which
would drop what an emptyDir store holds). The kubelet refreshes the mounted file on its own
sync (about a minute by default); this module polls the file's content every
OSC_FLOW_TARGETS_POLL_SECONDS (5) and swaps the targets in place. A file that cannot be read
or parsed keeps the targets last read, and says so in the log.
"""

from __future__ import annotations

import asyncio
import logging

from osc_runtime.settings import SettingsError
from osc_runtime.triggers import FlowTarget, TriggerSettings, parse_targets, read_targets_file

log = logging.getLogger("osc_runtime.flow")


class FlowTargets:
    """name → target, current as of the last poll."""

    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self.path = settings.flow_targets_path
        self._text = read_targets_file(self.path) if self.path else None
        self.current = {target.name: target for target in settings.targets()}

    def reload(self) -> bool:
        """Read the file again; True when the targets changed."""
        try:
            text = read_targets_file(self.path)
            if text == self._text:
                return False
            targets = [] if text is None else parse_targets(text, "OSC_FLOW_TARGETS_PATH")
        except SettingsError as error:
            log.error("flow targets not changed: %s", error)
            return False
        self._text = text
        self.current = {target.name: target for target in targets}
        log.info("flow targets changed", extra={"targets": sorted(self.current)})
        return True

    def get(self, name: str) -> FlowTarget | None:
        return self.current.get(name)

    async def follow_forever(self) -> None:
        """Poll the file (only when the targets come from one)."""
        if self.path is None:
            return
        while True:
            await asyncio.sleep(self.settings.flow_targets_poll_seconds)
            self.reload()
