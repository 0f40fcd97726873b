"""What the operator renders for an OpenFnJob, run by `podman kube play` from the runtime image.

The closest this machine gets to a cluster: the ConfigMap, Secrets and Deployment are the
operator's own builders' output (osc_operator.render). Two podman 4.3 gaps are bridged: it
has no Services, so the container gets a hostPort on loopback in place of the Service and a
port-forward; and its Secret volumes ignore `items` and hand over the base64 text, so each
Secret volume is projected the way the kubelet does it (the listed keys, decoded, as files)
into a folder that replaces it as a hostPath volume. The same for the projected `flow`
volume (the optional `<name>-flow` ConfigMap and `-flow-keys` Secret, absent while no job
flows after this one): the kubelet mounts it as an empty folder, and so does this test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from osc_operator import render
from osc_operator.api import parse_spec
from tests.images.conftest import RUNTIME_IMAGE, Service, free_port
from tests.images.podman import Podman

# A cold build of an image (the first test to need it) takes minutes on two cores.
pytestmark = pytest.mark.timeout(1800)

NAME, NAMESPACE, KEY = "kube-play", "default", "kube-play-key-31d0"
CREDENTIAL = {"region": "eu-1", "password": "pw-kube-play-hidden"}
SPEC = {
    "adaptor": "@openfn/language-common@3.3.4",
    "job": "fn(state => ({ ...state, data: { regionLength: state.configuration.region.length, "
           "n: state.data.n * 2 } }));",
    "credential": {"secretRef": {"name": "kube-play-credential", "key": "credential.json"}},
    "trigger": {"webhook": {}},
}


def project_secrets(deployment: dict[str, Any], secrets: list[dict[str, Any]],
                    folder: Path) -> None:
    """Replace each Secret volume by a hostPath folder holding its projected files."""
    by_name = {secret["metadata"]["name"]: secret["stringData"] for secret in secrets}
    for volume in deployment["spec"]["template"]["spec"]["volumes"]:
        if volume.pop("projected", None) is not None:  # every source optional and absent
            (folder / volume["name"]).mkdir(parents=True)
            volume["hostPath"] = {"path": str(folder / volume["name"]), "type": "Directory"}
            continue
        source = volume.pop("secret", None)
        if source is None:
            continue
        target = folder / volume["name"]
        target.mkdir(parents=True)
        for item in source["items"]:
            projected = target / item["path"]
            projected.write_text(by_name[source["secretName"]][item["key"]])
            projected.chmod(0o444)  # the kubelet gives 0400 + fsGroup; podman has no fsGroup
        volume["hostPath"] = {"path": str(target), "type": "Directory"}


def rendered_objects(port: int, folder: Path) -> list[dict[str, Any]]:
    """What the operator renders for SPEC, with the Secrets projected into `folder`."""
    spec = parse_spec(SPEC)
    credential_secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "kube-play-credential", "namespace": NAMESPACE},
        "stringData": {"credential.json": json.dumps(CREDENTIAL)}}
    checksums = render.Checksums(job=render.checksum(spec.job), api_key=render.checksum(KEY),
                                 credential=render.checksum(json.dumps(CREDENTIAL)))
    deployment = render.render_deployment(NAME, NAMESPACE, spec, image=RUNTIME_IMAGE,
                                          checksums=checksums)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["hostPort"] = port  # stands in for the Service + port-forward
    container["ports"][0]["hostIP"] = "127.0.0.1"
    secrets = [render.render_inbox_secret(NAME, NAMESPACE, KEY), credential_secret]
    project_secrets(deployment, secrets, folder)
    return [render.render_job_configmap(NAME, NAMESPACE, spec), deployment]


@pytest.fixture
def played(podman: Podman, runtime_image: str, tmp_path: Path):
    port = free_port()
    manifest = tmp_path / "kube.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered_objects(port, tmp_path / "secrets")))
    podman.run("kube", "down", str(manifest), check=False)  # left over by an interrupted run
    podman.run("kube", "play", str(manifest))
    try:
        names = podman.run("ps", "-a", "--format", "{{.Names}}").stdout.split()
        # podman names a Deployment's container <pod>-<container>, the pod after the Deployment
        runtime = next(name for name in names if name.startswith(NAME) and
                       name.endswith("-runtime"))
        service = Service(podman, runtime, port, KEY)
        yield service
        service.close()
    finally:
        podman.run("kube", "down", str(manifest), check=False)


def test_kube_play_of_the_rendered_deployment_runs_a_job(played: Service, podman: Podman) -> None:
    played.wait_ready()
    accepted = played.post({"n": 21})
    assert accepted.status_code == 202, accepted.text
    run = played.wait_run(accepted.json()["run_id"])
    assert run["status"] == "success", run
    assert run["final_state"]["data"] == {"regionLength": 4, "n": 42}
    assert CREDENTIAL["password"] not in json.dumps(run)
    assert podman.run("exec", played.container, "id", "-u").stdout.strip() == "10001"
