"""Find the adaptor a job names and, when it is missing, install it with npm, once.

Interface used by the rest of the runtime:
    resolved = await ensure_adaptor(settings)   # raises AdaptorError with a clear message
    resolved.load_arg   -> what to pass to core's `-l`
    resolved.node_path  -> the folders for NODE_PATH

Where adaptors come from, in order of preference:
  * bundled: `<OSC_NODE_MODULES>/<name>` (the image's node_modules, package.json's dependencies);
  * installed: `<adaptors dir>/<name>/<version>/node_modules/<name>`, one folder per version, so
    two versions sit side by side and a restart on the same data dir installs nothing;
  * npm: `npm install --ignore-scripts … <name>@<version or range>` into a hidden staging folder
    that is renamed to `<version>` only once complete: a crash mid-install never leaves a folder
    that looks installed.
A range is matched with semver (npm's own, run by node) against what is already there before
anything is installed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from osc_runtime import npm
from osc_runtime.settings import AdaptorInstall, Settings, SettingsError, match_adaptor, shown

log = logging.getLogger("osc_runtime.adaptors")

INSTALL_MARKER = ".osc-installed.json"  # written into a version folder before it is renamed
STAGING_PREFIX = ".installing-"
# A version as npm reports it; anything else must not become a folder name.
VERSION_FOLDER = re.compile(r"^[0-9][0-9A-Za-z.+-]*$")


class AdaptorError(RuntimeError):
    """The adaptor cannot be found or installed; the message says why.

    `permanent`: it can never be (npm says the package or version does not exist); otherwise
    trying again later may succeed (the registry was unreachable)."""

    permanent = False

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class AdaptorConfigError(AdaptorError, SettingsError):
    """OSC_ADAPTOR cannot work as set (not a package spec, or missing while installs are
    forbidden): a start-up error to stop on, not something to wait for."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class ResolvedAdaptor:
    name: str
    version: str
    path: Path  # the package's folder
    node_path: tuple[Path, ...]
    source: str = "bundled"  # bundled | installed (found in the adaptors dir) | downloaded (now)

    @property
    def load_arg(self) -> str:
        # core resolves `-l NAME` from its own node_modules first: a folder is unambiguous.
        return str(self.path)

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def adaptors_dir(settings: Settings) -> Path:
    return settings.adaptors_dir or settings.data_dir / "adaptors"


async def ensure_adaptor(settings: Settings, spec: str | None = None) -> ResolvedAdaptor:
    """The adaptor OSC_ADAPTOR names (or `spec`, a workflow step's), installed first if it is
    missing and installs are allowed."""
    spec = spec or settings.adaptor
    name, wanted = parse_adaptor(spec)
    try:
        found = await find_adaptor(settings, name, wanted)
    except npm.NpmError as error:
        raise AdaptorError(f"cannot check adaptor {spec}: {error}") from None
    except OSError as error:
        raise AdaptorError(_unreadable(error)) from None
    if found is not None:
        log.info("adaptor %s ready (%s, %s)", found.spec, found.source, found.path)
        return found
    if settings.adaptor_install is AdaptorInstall.NEVER:
        raise AdaptorConfigError(_missing(settings, spec))
    return await install_adaptor(settings, name, wanted)


def check_at_startup(settings: Settings) -> None:
    """Stop start-up (AdaptorConfigError, one line naming OSC_ADAPTOR) on an adaptor setting that
    cannot work: not a package spec, not semver, or missing while installs are forbidden.
    Looks only at the disk; installing is left to ensure_adaptor, in the background.
    A workflow's steps are checked one by one."""
    for spec in settings.adaptor_specs():
        name, wanted = parse_adaptor(spec)
        try:
            found = asyncio.run(find_adaptor(settings, name, wanted))
        except npm.NpmError as error:
            raise AdaptorConfigError(f"OSC_ADAPTOR: cannot check {spec}: {error}") from None
        except OSError as error:  # e.g. a path too long for the file system
            raise AdaptorConfigError(_unreadable(error)) from None
        if found is None and settings.adaptor_install is AdaptorInstall.NEVER:
            raise AdaptorConfigError(_missing(settings, spec))


def parse_adaptor(spec: str) -> tuple[str, str | None]:
    """(name, version or range) of an OSC_ADAPTOR value; refuses paths, URLs, tags, git specs."""
    match = match_adaptor(spec)
    if match is None:
        raise AdaptorConfigError(
            f"OSC_ADAPTOR: {shown(spec)} is not an npm package name with an optional version "
            "(e.g. @openfn/language-http@7.2.10)"
        )
    version = match["version"]
    return match["name"], version.strip() if version else None


async def find_adaptor(settings: Settings, name: str, wanted: str | None) -> ResolvedAdaptor | None:
    """The best adaptor already on disk that satisfies `wanted`, without touching the network."""
    candidates = _installed_versions(settings, name)
    bundled = _bundled(settings, name)
    if bundled is not None and wanted in (None, bundled.version):
        return bundled  # no version asked for, or exactly this one: the image's own adaptor
    if bundled is not None:
        candidates.setdefault(bundled.version, bundled)
    best = await npm.max_satisfying(settings, list(candidates), wanted or "*")
    if best is None and wanted is not None and not await npm.valid_range(settings, wanted):
        raise AdaptorConfigError(f"OSC_ADAPTOR: {wanted!r} is not a semver version or range")
    return candidates.get(best) if best else None


def _unreadable(error: OSError) -> str:
    return (f"OSC_ADAPTOR, OSC_NODE_MODULES or OSC_ADAPTORS_DIR: cannot look for the adaptor in "
            f"{shown(error.filename)}: {error.strerror}")


def _missing(settings: Settings, spec: str) -> str:
    return (
        f"OSC_ADAPTOR: {spec} is not installed (looked in {settings.node_modules} "
        f"and {adaptors_dir(settings)}) and OSC_ADAPTOR_INSTALL=never forbids installing it"
    )


def _bundled(settings: Settings, name: str) -> ResolvedAdaptor | None:
    folder = settings.node_modules / name
    version = _package_version(folder)
    if version is None:
        return None
    return ResolvedAdaptor(name, version, folder, (settings.node_modules,), "bundled")


def _installed_versions(settings: Settings, name: str) -> dict[str, ResolvedAdaptor]:
    root = adaptors_dir(settings) / name
    found: dict[str, ResolvedAdaptor] = {}
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        resolved = _installed(settings, name, folder)
        if resolved is not None:
            found[resolved.version] = resolved
    return found


def _installed(
    settings: Settings, name: str, folder: Path, source: str = "installed"
) -> ResolvedAdaptor | None:
    """The adaptor in a version folder, if that folder is complete (it has the marker)."""
    package = folder / "node_modules" / name
    version = _package_version(package)
    if version is None or folder.name != version or not (folder / INSTALL_MARKER).is_file():
        return None
    node_path = (folder / "node_modules", settings.node_modules)
    return ResolvedAdaptor(name, version, package, node_path, source)


def _package_version(folder: Path) -> str | None:
    try:
        version = json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, str) and VERSION_FOLDER.match(version) else None


async def install_adaptor(settings: Settings, name: str, wanted: str | None) -> ResolvedAdaptor:
    """npm-install `name@wanted` into its own version folder, which appears complete or not at
    all."""
    root, spec = adaptors_dir(settings) / name, f"{name}@{wanted}" if wanted else name
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(root)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    except OSError as error:
        raise AdaptorError(f"cannot install adaptor {spec}: {error}") from None
    try:
        log.info("installing adaptor %s with npm into %s", spec, root)
        await npm.install(settings, staging, spec, home=adaptors_dir(settings) / ".npm")
        return _publish(settings, name, staging, spec)
    except npm.NpmError as error:
        raise AdaptorError(f"npm could not install {spec}: {error}",
                           permanent=error.permanent) from None
    except OSError as error:
        raise AdaptorError(f"cannot install adaptor {spec}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(settings: Settings, name: str, staging: Path, requested: str) -> ResolvedAdaptor:
    version = _package_version(staging / "node_modules" / name)
    if version is None:
        raise AdaptorError(f"npm finished but {name} is not in {staging / 'node_modules'}")
    marker = {"name": name, "version": version, "requested": requested, "at": time.time()}
    (staging / INSTALL_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    staging.chmod(0o755)  # mkdtemp made it private; other users (read-only mounts) must read it
    final = staging.parent / version
    try:
        staging.rename(final)  # atomic: the version folder appears complete or not at all
    except OSError:
        if _installed(settings, name, final) is None:  # not installed meanwhile by another process
            raise AdaptorError(f"cannot move the installed adaptor into {final}") from None
    resolved = _installed(settings, name, final, source="downloaded")
    if resolved is None:
        raise AdaptorError(f"the installed adaptor in {final} is incomplete")
    log.info("installed adaptor %s into %s", resolved.spec, final)
    return resolved


def _remove_stale_staging(root: Path) -> None:
    # Left by a crash mid-install; older than the npm timeout, so no live install owns them.
    deadline = time.time() - 2 * npm.TIMEOUT_SECONDS
    for folder in root.glob(f"{STAGING_PREFIX}*"):
        try:
            if folder.stat().st_mtime < deadline:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
