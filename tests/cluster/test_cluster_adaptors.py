"""README (Adaptors, operator side): a job whose adaptor the image lacks gets the install
init container; switching it to a bundled adaptor removes that init container together with
its volume (a Deployment left with one of the two is refused 422 by the real API server), and
back again adds both."""

from __future__ import annotations

import json

from tests.cluster.jobs import kubectl_wait_ready, openfnjob, pod_spec, wait_reason
from tests.cluster.kubectl import wait_for

NOT_BUNDLED = "@openfn/language-http@6.4.3"
BUNDLED = "@openfn/language-common"


def _init_containers(cluster, namespace: str, name: str) -> list[str]:
    return [c["name"] for c in pod_spec(cluster, namespace, name).get("initContainers") or []]


def _volumes(cluster, namespace: str, name: str) -> list[str]:
    return [v["name"] for v in pod_spec(cluster, namespace, name)["volumes"]]


def test_switching_between_installed_and_bundled_adaptors(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "switches-adaptor"
    cluster.apply(namespace, openfnjob(name, adaptor=NOT_BUNDLED))
    kubectl_wait_ready(cluster, namespace, name)
    assert _init_containers(cluster, namespace, name) == ["install-adaptor"]
    assert "adaptors" in _volumes(cluster, namespace, name)

    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge",
                    "-p", json.dumps({"spec": {"adaptor": BUNDLED}}))
    wait_for(lambda: _init_containers(cluster, namespace, name) == [],
             "the install init container removed")
    assert "adaptors" not in _volumes(cluster, namespace, name)
    wait_reason(cluster, namespace, name, "Available")

    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge",
                    "-p", json.dumps({"spec": {"adaptor": NOT_BUNDLED}}))
    wait_for(lambda: _init_containers(cluster, namespace, name) == ["install-adaptor"],
             "the install init container back")
    assert "adaptors" in _volumes(cluster, namespace, name)
    wait_reason(cluster, namespace, name, "Available")
