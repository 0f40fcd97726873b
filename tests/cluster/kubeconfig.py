"""kubeconfig files: a component's (client certificate) or a ServiceAccount's (token)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.pki import Pki


def _data(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _write(path: Path, server: str, ca_data: str, user: dict[str, Any], name: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": ca_data}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def write_client(path: Path, server: str, pki: Pki, name: str) -> None:
    """A kubeconfig authenticating with the client certificate `name` of `pki`."""
    _write(path, server, _data(pki.ca), {"client-certificate-data": _data(pki.cert(name)),
                                         "client-key-data": _data(pki.key(name))}, "osc-local")


def write_token(path: Path, server: str, ca_data: str, token: str, name: str) -> None:
    """A kubeconfig authenticating with a bearer token (e.g. from the TokenRequest API)."""
    _write(path, server, ca_data, {"token": token}, name)


def server_and_ca(path: Path) -> tuple[str, str]:
    """The current context's server URL and CA data (base64) of a kubeconfig."""
    config = yaml.safe_load(path.read_text())
    context = next(c["context"] for c in config["contexts"]
                   if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    ca = cluster.get("certificate-authority-data")
    if ca is None and cluster.get("certificate-authority"):
        ca = _data(Path(cluster["certificate-authority"]))
    return cluster["server"], ca or ""
