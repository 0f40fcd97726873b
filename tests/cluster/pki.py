"""The control plane's certificates and keys, made with openssl as a real cluster has them.

One CA signs the API server's serving certificate and a client certificate per component
(the user is the certificate's CN, its groups the O fields), and a separate key pair signs
ServiceAccount tokens. EC P-256 keys: generating them takes milliseconds.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.tools import tool

SERVING_NAMES = ("DNS:localhost", "IP:127.0.0.1", "DNS:kubernetes", "DNS:kubernetes.default",
                 "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local",
                 "IP:10.96.0.1")  # 10.96.0.1: the `kubernetes` Service of the service range
# user (CN) and groups (O) of each component's client certificate
CLIENTS = {
    "admin": ("osc-admin", ("system:masters",)),
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    # kwok plays every kubelet of its nodes and reads every pod: an admin, as in kwokctl
    "kwok": ("kwok", ("system:masters",)),
}
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @property
    def service_account_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.dir / "sa.pub"


def make_pki(directory: Path) -> Pki:
    """Write the CA, the serving and client certificates and the ServiceAccount key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = Pki(directory)
    _openssl("req", "-x509", *EC_KEY, "-keyout", pki.key("ca"), "-out", pki.ca, "-days", "3650",
             "-subj", "/CN=osc-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _leaf(pki, "apiserver", "/CN=kube-apiserver", "serverAuth",
          f"subjectAltName={','.join(SERVING_NAMES)}")
    for name, (user, groups) in CLIENTS.items():
        subject = "".join(f"/O={group}" for group in groups) + f"/CN={user}"
        _leaf(pki, name, subject, "clientAuth")
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
             pki.service_account_key)
    _openssl("ec", "-in", pki.service_account_key, "-pubout", "-out",
             pki.service_account_public_key)
    return pki


def _leaf(pki: Pki, name: str, subject: str, usage: str, *extensions: str) -> None:
    added = [arg for extension in extensions for arg in ("-addext", extension)]
    _openssl("req", "-x509", *EC_KEY, "-keyout", pki.key(name), "-out", pki.cert(name),
             "-days", "365", "-subj", subject, "-CA", pki.ca, "-CAkey", pki.key("ca"),
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "keyUsage=critical,digitalSignature",
             "-addext", f"extendedKeyUsage={usage}", *added)


def _openssl(*args: str | Path) -> None:
    command = [str(tool("openssl")), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr[-1000:]}")
