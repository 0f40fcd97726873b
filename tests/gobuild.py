"""Build the control plane of tests/cluster with Go, once per machine.

Each build is a small Go module of ours under tests/cluster/gomod/<name>/ (go.mod + go.sum
pin every dependency; tools.go names the commands). `go build` fetches the modules from the
Go module proxy into Go's own module cache and compiles with Go's build cache, both in their
default places. The binaries go to a machine-wide cache keyed by the version and a digest of
the module files and flags:

    ${XDG_CACHE_HOME:-~/.cache}/osc/<name>-<version>-<digest>/bin/

and are symlinked into the clone's .tools/bin, so another clone on the same machine (CI runs
in a fresh one) links them in milliseconds instead of building again. A lock file keeps two
clones from building the same thing at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BUILDS = Path(__file__).resolve().parent / "cluster" / "gomod"
KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
_K8S_VERSION_PKG = "k8s.io/component-base/version"


class GoBuildError(RuntimeError):
    """Go is missing or a build failed; the message has the command and its error."""


@dataclass(frozen=True)
class GoBuild:
    name: str  # the folder under tests/cluster/gomod/
    version: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    ldflags: str

    @property
    def module_dir(self) -> Path:
        return BUILDS / self.name

    def cache_dir(self) -> Path:
        digest = hashlib.sha256(self.ldflags.encode())
        for file in ("go.mod", "go.sum", "tools.go"):
            digest.update((self.module_dir / file).read_bytes())
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "osc" / f"{self.name}-{self.version}-{digest.hexdigest()[:12]}"


def _kubernetes_ldflags(version: str) -> str:
    major, minor = version.removeprefix("v").split(".")[:2]
    return " ".join(["-s -w", f"-X {_K8S_VERSION_PKG}.gitVersion={version}",
                     f"-X {_K8S_VERSION_PKG}.gitMajor={major}",
                     f"-X {_K8S_VERSION_PKG}.gitMinor={minor}",
                     f"-X {_K8S_VERSION_PKG}.gitTreeState=clean"])


GO_BUILDS: dict[str, GoBuild] = {
    "kubernetes": GoBuild(
        "kubernetes", KUBERNETES_VERSION,
        tuple(f"k8s.io/kubernetes/cmd/{cmd}" for cmd in
              ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
        ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
        _kubernetes_ldflags(KUBERNETES_VERSION)),
    "etcd": GoBuild("etcd", ETCD_VERSION, ("go.etcd.io/etcd/server/v3",), ("etcd",), "-s -w"),
    "kwok": GoBuild("kwok", KWOK_VERSION, ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",),
                    f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}"),
}


def build_go_tools(build: GoBuild, bin_dir: Path) -> None:
    """Link `build`'s binaries into `bin_dir`, building them into the machine cache first
    unless they are there already."""
    cache = build.cache_dir()
    if not all((cache / "bin" / binary).exists() for binary in build.binaries):
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(cache.parent / f".{cache.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another clone may be building it right now
            if not all((cache / "bin" / binary).exists() for binary in build.binaries):
                _build(build, cache)
    bin_dir.mkdir(parents=True, exist_ok=True)
    for binary in build.binaries:
        link, target = bin_dir / binary, cache / "bin" / binary
        if link.is_symlink() and link.readlink() == target:
            continue  # linked already (never unlink a binary something may be starting)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)


def _build(build: GoBuild, cache: Path) -> None:
    go = shutil.which("go") or next(
        (path for path in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(path).exists()),
        None)
    if go is None:
        raise GoBuildError(f"building {build.name} {build.version} needs Go 1.24+ on PATH")
    scratch = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    scratch.chmod(0o755)
    # one package: name the binary (etcd's would be `server`, after its module path)
    output = scratch / "bin" / build.binaries[0] if len(build.packages) == 1 else \
        f"{scratch / 'bin'}/"
    command = [go, "build", "-trimpath", "-ldflags", build.ldflags, "-o", str(output),
               *build.packages]
    print(f"tools: building {build.name} {build.version} with Go (once per machine; the first "
          "build of Kubernetes takes a while)", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=build.module_dir, capture_output=True, text=True,
                            env={**os.environ, "GOFLAGS": "-mod=readonly"})
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise GoBuildError(f"{' '.join(command)} (in {build.module_dir}) failed "
                           f"({result.returncode}): {result.stderr[-3000:]}")
    if cache.exists():
        shutil.rmtree(cache)
    scratch.rename(cache)
    print(f"tools: built {build.name} in {time.monotonic() - started:.0f} s into {cache}",
          flush=True)
