"""Find the adaptor a job names (and, later, install it when it is missing).

Interface used by the rest of the runtime:
    resolved = await ensure_adaptor(settings)   # raises AdaptorError with a clear message
    resolved.load_arg   -> what to pass to core's `-l`
    resolved.node_path  -> the folders for NODE_PATH
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from osc_runtime.settings import Settings


class AdaptorError(RuntimeError):
    """The adaptor cannot be found or installed; the message says why."""


@dataclass(frozen=True)
class ResolvedAdaptor:
    name: str
    version: str
    path: Path  # the package's folder
    node_path: tuple[Path, ...]

    @property
    def load_arg(self) -> str:
        # core resolves `-l NAME` from its own node_modules first: a folder is unambiguous.
        return str(self.path)


async def ensure_adaptor(settings: Settings) -> ResolvedAdaptor:
    name, wanted = settings.adaptor_name(), settings.adaptor_version()
    folder = settings.node_modules / name
    try:
        version = json.loads((folder / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise AdaptorError(f"adaptor {name} is not installed in {settings.node_modules}") from None
    if wanted and wanted != version:
        raise AdaptorError(f"adaptor {name}@{wanted} is not installed (found {version})")
    return ResolvedAdaptor(name, version, folder, (settings.node_modules,))
