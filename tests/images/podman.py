"""Build and run the images with Debian's podman, without a Docker engine or a registry.

No image can be pulled here, so the `debian:trixie-slim` base is made locally: debootstrap a
minbase trixie from the Debian mirror apt already uses, copy in the host's extra CA
certificates (HTTPS from inside builds goes through them), `podman import` it under the name
the Dockerfiles use. It is cached per day in the project-local storage under .tools/podman.

podman here needs runc and explicit ulimits (hybrid cgroups, no CAP_SYS_RESOURCE): see
`containers.conf` written below. `--format docker` keeps the images' HEALTHCHECK.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".tools" / "podman"
BASE_IMAGE = "docker.io/library/debian:trixie-slim"
BASE_LABEL = "osc.base.date"  # the day the base was made: remade daily for security updates
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
BASE_DOCKERFILE = """\
FROM localhost/osc-rootfs:{date}
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    LANG=C.UTF-8
LABEL {label}={date}
CMD ["bash"]
"""


class PodmanError(RuntimeError):
    """A podman command failed; the message carries its output."""


def debian_mirror() -> str:
    """The Debian mirror apt already uses on this machine (never a hard-coded host)."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for source in sources:
        if not source.is_file() or source.suffix not in ("", ".list", ".sources"):
            continue
        for match in re.finditer(r"(https?://\S+/debian)/?(?:\s|$)", source.read_text()):
            return match.group(1)
    raise PodmanError("no Debian mirror found in /etc/apt/sources.list*")


@dataclass
class Podman:
    """podman with project-local storage and our containers.conf."""

    state: Path = STATE

    def __post_init__(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        conf = self.state / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = [
            "podman", "--root", str(self.state / "root"),
            "--runroot", str(self.state / "runroot"), "--storage-driver", "overlay",
        ]  # fmt: skip

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )
        if check and result.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args[:3])} … failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def check_usable(self) -> None:
        """Fail with podman's own words when it cannot run containers here."""
        self.run("info")

    def ensure_base(self) -> None:
        """Make `debian:trixie-slim` from debootstrap once a day; reuse it otherwise."""
        today = datetime.date.today().isoformat()
        found = self.run("image", "inspect", "--format",
                         "{{index .Labels \"%s\"}}" % BASE_LABEL, BASE_IMAGE, check=False)  # fmt: skip
        if found.returncode == 0 and found.stdout.strip() == today:
            return
        with tempfile.TemporaryDirectory(dir=self.state) as scratch:
            rootfs = Path(scratch) / "rootfs"
            _debootstrap(rootfs)
            tarball = Path(scratch) / "rootfs.tar"
            subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
            self.run("import", str(tarball), f"localhost/osc-rootfs:{today}")
            context = Path(scratch) / "context"
            context.mkdir()
            (context / "Dockerfile").write_text(BASE_DOCKERFILE.format(date=today, label=BASE_LABEL))
            self.build(context / "Dockerfile", context, BASE_IMAGE)
            self.run("rmi", f"localhost/osc-rootfs:{today}", check=False)
        self.run("image", "prune", "-f", check=False)

    def build(self, dockerfile: Path, context: Path, tag: str, *extra: str) -> None:
        self.run("build", "--format", "docker", "--network", "host", "-f", str(dockerfile),
                 "-t", tag, *extra, str(context), timeout=1800)  # fmt: skip

    def size_mb(self, image: str) -> float:
        size = self.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()
        return int(size) / 1_000_000

    def start(self, *args: str) -> str:
        """`podman run -d …`; the id comes from stdout only (stderr may carry systemd noise)."""
        output = self.run("run", "-d", *args).stdout.strip().splitlines()
        return output[-1].strip()

    def logs(self, container: str) -> str:
        result = self.run("logs", container, check=False)
        return result.stdout + result.stderr

    def remove(self, container: str) -> None:
        self.run("rm", "-f", "-t", "2", container, check=False)


def _debootstrap(rootfs: Path) -> None:
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", "trixie", str(rootfs), debian_mirror()],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        raise PodmanError(f"debootstrap failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    # What the official slim image does: no downloaded packages, apt lists or docs left in it.
    for leftover in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        subprocess.run(["find", str(rootfs / leftover), "-type", "f", "-delete"], check=True)
    certs = rootfs / "usr/local/share/ca-certificates"
    certs.mkdir(parents=True, exist_ok=True)  # a minbase rootfs lacks it
    for cert in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        (certs / cert.name).write_bytes(cert.read_bytes())
