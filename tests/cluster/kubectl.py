"""The cluster as the tests see it: the real kubectl and helm, and a JSON client for polling."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import yaml

from osc_operator import kube
from tests.cluster import kubeconfig
from tests.tools import tool

JOBS_API = "/apis/osc.openfn.org/v1alpha1"


class Cluster:
    """An admin's view of one cluster (kubeconfig), with its audit log when we started it."""

    def __init__(self, admin_kubeconfig: Path, audit_log: Path | None) -> None:
        self.kubeconfig = admin_kubeconfig
        self.audit_log = audit_log  # the API server's (Metadata level), when we started it
        self.external = audit_log is None  # someone else's cluster, with real pods
        client = kubernetes.config.new_client_from_config(config_file=str(admin_kubeconfig))
        self.api = kube.Kube(client)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
        return _run([str(tool("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
                    input, check, timeout)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run([str(tool("helm")), f"--kubeconfig={self.kubeconfig}", *args], None, check,
                    300)

    def apply(self, namespace: str, *manifests: dict[str, Any] | str,
              check: bool = True) -> subprocess.CompletedProcess:
        """`kubectl apply -f -` of the given objects (dicts) or YAML texts."""
        text = "\n---\n".join(m if isinstance(m, str) else yaml.safe_dump(m) for m in manifests)
        return self.kubectl("apply", "-n", namespace, "-f", "-", input=text, check=check)

    def get(self, path: str) -> dict[str, Any] | None:
        return self.api.get(path)

    def job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(f"{JOBS_API}/namespaces/{namespace}/openfnjobs/{name}")

    def child(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        api_version = {"Deployment": "apps/v1", "CronJob": "batch/v1"}.get(kind, "v1")
        return self.get(kube.object_path(api_version, kube.PLURALS[kind], namespace, name))

    def list(self, path: str, **query: str) -> list[dict[str, Any]]:
        suffix = "?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else ""
        return (self.get(path + suffix) or {}).get("items", [])

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig holding a TokenRequest token of ServiceAccount namespace/name."""
        token = self.kubectl("create", "token", name, "-n", namespace,
                             "--duration=4h").stdout.strip()
        server, ca = kubeconfig.server_and_ca(self.kubeconfig)
        kubeconfig.write_token(path, server, ca, token, f"{namespace}-{name}")
        return path


def _run(command: list[str], input: str | None, check: bool,
         timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(command, input=input, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command[:4])} … failed ({result.returncode}):\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60,
             interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def ready_condition(job: dict[str, Any] | None) -> dict[str, Any]:
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def as_json(result: subprocess.CompletedProcess) -> Any:
    return json.loads(result.stdout)
