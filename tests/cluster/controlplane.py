"""A real Kubernetes control plane as local processes, on loopback and free ports.

etcd, kube-apiserver (TLS, client certificates, `Node,RBAC` authorization, ServiceAccount
tokens and the TokenRequest API, the default admission plugins plus
OwnerReferencesPermissionEnforcement, a Metadata-level audit log), kube-controller-manager
(every default controller, each with its own ServiceAccount credentials), kube-scheduler,
and kwok playing the kubelet of one Node: pods are bound by the scheduler, then marked Running
and Ready by kwok, so Deployments become Available through the real deployment controller.
No container ever runs.

    python -m tests.cluster.controlplane up   [DIR]   # `make cluster`: start, wait, return
    python -m tests.cluster.controlplane down [DIR]   # `make cluster-down`: stop, remove DIR

DIR (default .tools/cluster) holds everything: certificates, etcd's data, the logs
(logs/<component>.log), the audit log (audit.log), the process ids, and admin.kubeconfig.
`up` on a running, healthy control plane does nothing. The tests use the same code with their
own temporary DIR and ports (tests/cluster/conftest.py), so they never meet `make cluster`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cluster import kubeconfig
from tests.cluster.apiclient import AdminClient
from tests.cluster.pki import Pki, make_pki
from tests.tools import ROOT, tool

DEFAULT_DIR = ROOT / ".tools" / "cluster"
KWOK_STAGES = Path(__file__).with_name("kwok-stages.yaml")
NODE = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
"""
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ControlPlane:
    """One control plane in `directory`; `start()` returns once it is healthy."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory.resolve()
        self.pki = Pki(self.dir / "pki")
        self.admin_kubeconfig = self.dir / "admin.kubeconfig"
        self.audit_log = self.dir / "audit.log"
        self.state_file = self.dir / "state.json"

    @property
    def server(self) -> str:
        return json.loads(self.state_file.read_text())["server"]

    def admin(self) -> AdminClient:
        return AdminClient(self.server, self.pki.ca, self.pki.cert("admin"), self.pki.key("admin"))

    # -- lifecycle --------------------------------------------------------------------------

    def running(self) -> bool:
        """Whether every component of a started control plane is alive and the API healthy."""
        if not self.state_file.exists():
            return False
        state = json.loads(self.state_file.read_text())
        if not all(_alive(pid) for pid in state["pids"].values()):
            return False
        return self.admin().healthy()

    def start(self, timeout: float = 120) -> None:
        if self.running():
            return
        self.stop()  # a half-dead earlier one: start over
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        make_pki(self.pki.dir)
        ports = {name: free_port() for name in
                 ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")}
        server = f"https://127.0.0.1:{ports['apiserver']}"
        state: dict = {"server": server, "ports": ports, "pids": {}}
        for name in ("controller-manager", "scheduler", "kwok"):
            kubeconfig.write_client(self.dir / f"{name}.kubeconfig", server, self.pki, name)
        (self.dir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        deadline = time.monotonic() + timeout
        try:
            for component in COMPONENTS:
                state["pids"][component] = self._spawn(component, ports)
                self.state_file.write_text(json.dumps(state, indent=2))
                if component == "kube-apiserver":
                    self._wait(self.admin().healthy, "kube-apiserver /readyz", deadline)
            client = self.admin()
            for name in ("controller-manager", "scheduler"):
                self._wait(lambda port=ports[name]: client.component_healthy(port),
                           f"kube-{name} /healthz", deadline)
            client.apply_node(NODE)
            self._wait(lambda: client.node_ready(NODE), f"Node {NODE} Ready (kwok)", deadline)
            self._wait(lambda: client.get("/api/v1/namespaces/default/serviceaccounts/default"),
                       "ServiceAccount default/default (the serviceaccount controller)", deadline)
        except BaseException:
            self.stop(remove=False)  # keep the logs to read
            raise
        kubeconfig.write_client(self.admin_kubeconfig, server, self.pki, "admin")

    def stop(self, remove: bool = True) -> None:
        """Stop every component (kwok first, etcd last); `remove` deletes the directory."""
        if self.state_file.exists():
            pids = json.loads(self.state_file.read_text())["pids"]
            for component in reversed(COMPONENTS):
                if component in pids:
                    _terminate(pids[component])
            self.state_file.unlink()
        if remove and self.dir.exists():
            shutil.rmtree(self.dir)

    def _wait(self, check, what: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._died():
                raise RuntimeError(f"{self._died()} exited; see {self.dir / 'logs'}")
            try:
                if check():
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.25)
        raise RuntimeError(f"timed out waiting for {what}; logs in {self.dir / 'logs'}")

    def _died(self) -> str | None:
        pids = json.loads(self.state_file.read_text())["pids"]
        return next((name for name, pid in pids.items() if not _alive(pid)), None)

    def _spawn(self, component: str, ports: dict[str, int]) -> int:
        command = [str(tool(component)), *self._arguments(component, ports)]
        with (self.dir / "logs" / f"{component}.log").open("ab") as log:
            # a process group of its own: `make cluster` returns, the components keep running
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=self.dir,
                                       start_new_session=True)
        return process.pid

    def _arguments(self, component: str, ports: dict[str, int]) -> list[str]:
        if component in ("kube-controller-manager", "kube-scheduler"):
            return self._controller_arguments(component.removeprefix("kube-"), ports)
        return {"etcd": self._etcd_arguments, "kube-apiserver": self._apiserver_arguments,
                "kwok": self._kwok_arguments}[component](ports)

    def _etcd_arguments(self, ports: dict[str, int]) -> list[str]:
        client = f"http://127.0.0.1:{ports['etcd']}"
        peer = f"http://127.0.0.1:{ports['etcd-peer']}"
        return ["--name=osc", f"--data-dir={self.dir / 'etcd'}", f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}", f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}", f"--initial-cluster=osc={peer}",
                "--unsafe-no-fsync", "--log-level=warn"]  # a test cluster: speed over fsync

    def _apiserver_arguments(self, ports: dict[str, int]) -> list[str]:
        pki = self.pki
        return [f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--tls-cert-file={pki.cert('apiserver')}",
                f"--tls-private-key-file={pki.key('apiserver')}",
                f"--client-ca-file={pki.ca}",
                "--authorization-mode=Node,RBAC",
                # on top of the defaults: what makes blockOwnerDeletion need a right
                "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.service_account_public_key}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # the `kubernetes` Endpoints may not hold a loopback address
                "--endpoint-reconciler-type=none",
                f"--audit-policy-file={self.dir / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}", "--audit-log-format=json",
                "--audit-log-maxsize=512", "--profiling=false"]

    def _controller_arguments(self, name: str, ports: dict[str, int]) -> list[str]:
        config = self.dir / f"{name}.kubeconfig"
        common = [f"--kubeconfig={config}", f"--authentication-kubeconfig={config}",
                  f"--authorization-kubeconfig={config}", "--bind-address=127.0.0.1",
                  f"--secure-port={ports[name]}", "--leader-elect=false"]
        if name == "scheduler":
            return common
        pki = self.pki
        return [*common, "--use-service-account-credentials=true", "--controllers=*",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca}", f"--cluster-signing-cert-file={pki.ca}",
                f"--cluster-signing-key-file={pki.key('ca')}"]

    def _kwok_arguments(self, ports: dict[str, int]) -> list[str]:
        return [f"--kubeconfig={self.dir / 'kwok.kubeconfig'}", f"--config={KWOK_STAGES}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--node-lease-duration-seconds=40", "--cidr=10.244.0.0/16",
                "--node-ip=10.0.0.10", f"--server-address=127.0.0.1:{ports['kwok']}"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours (the fixture started it) is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _terminate(pid: int, grace: float = 15) -> None:
    if not _alive(pid) or not _ours(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _ours(pid: int) -> bool:
    """The pid still runs one of our components (not a process that took a recycled pid)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return Path(command).name in COMPONENTS


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: `make cluster` started it


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("up", "down"):
        print(__doc__)
        return 2
    plane = ControlPlane(Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR)
    if argv[0] == "down":
        plane.stop()
        print(f"cluster: stopped, {plane.dir} removed")
        return 0
    started = time.monotonic()
    was_running = plane.running()
    plane.start()
    what = "already running" if was_running else f"ready in {time.monotonic() - started:.1f} s"
    print(f"cluster: {what} at {plane.server}\n"
          f"  export KUBECONFIG={plane.admin_kubeconfig}\n"
          f"  logs: {plane.dir / 'logs'}  audit log: {plane.audit_log}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
