"""A few admin calls the control plane needs while it starts (no kubectl yet)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class AdminClient:
    """JSON over HTTPS with the admin's client certificate."""

    def __init__(self, server: str, ca: Path, cert: Path, key: Path) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(ca))
        self.context.load_cert_chain(str(cert), str(key))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method,
                                         headers={"Content-Type": "application/json",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        return body if status == 200 else None

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/readyz")[0] == 200
        except OSError:
            return False

    def component_healthy(self, port: int) -> bool:
        """A controller-manager's or scheduler's /healthz (self-signed serving certificate)."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context,
                                        timeout=5) as response:
                return response.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def apply_node(self, name: str) -> None:
        """The simulated Node kwok manages (no taints: every pod may go there)."""
        capacity = {"cpu": "32", "memory": "256Gi", "pods": "250",
                    "ephemeral-storage": "500Gi"}
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": name, "annotations": {"kwok.x-k8s.io/node": "fake",
                                          "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "type": "kwok"}},
            "status": {"capacity": capacity, "allocatable": capacity}}
        status, body = self.request("POST", "/api/v1/nodes", node)
        if status not in (201, 409):
            raise RuntimeError(f"creating Node {name}: HTTP {status}: {body}")

    def node_ready(self, name: str) -> bool:
        node = self.get(f"/api/v1/nodes/{name}") or {}
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in (node.get("status") or {}).get("conditions") or [])
