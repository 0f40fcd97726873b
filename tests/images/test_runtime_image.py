"""The runtime image, built with podman and run as a user would: generic and bake-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.images.conftest import write
from tests.images.podman import ROOT, Podman

# A cold build of an image (the first test to need it) takes minutes on two cores.
pytestmark = pytest.mark.timeout(1800)

KEY = "image-test-key-6f1c"
SECRET_TOKEN = "tok-9b27-never-shown"
# Reads the credential (state.configuration) to prove it reached the job; only lengths are
# returned, since the runtime masks credential values in what it shows.
CREDENTIAL_JOB = """
fn(state => ({ ...state, data: {
  userLength: state.configuration.user.length,
  tokenLength: state.configuration.token.length,
  echoed: state.data.name,
} }));
"""


def test_runtime_image_is_small_enough(podman: Podman, runtime_image: str) -> None:
    size = podman.size_mb(runtime_image)
    assert size < 400, f"the runtime image is {size:.0f} MB"
    image = json.loads(podman.run("image", "inspect", runtime_image).stdout)[0]
    assert image["Config"]["User"] == "10001:10001"
    assert image["Config"]["Entrypoint"] == ["python", "-m", "osc_runtime"]
    assert "/healthz" in image["Healthcheck"]["Test"][-1]  # kept by --format docker


def test_generic_image_runs_a_job_read_only(podman: Podman, runtime_image: str, serve,
                                            tmp_path: Path) -> None:
    job = write(tmp_path / "job.js", CREDENTIAL_JOB)
    credential = write(tmp_path / "credential.json",
                       json.dumps({"user": "ada", "token": SECRET_TOKEN}))
    volume = f"osc-test-data-{tmp_path.name}"
    podman.run("volume", "create", volume)
    args = ["--read-only", "--tmpfs", "/tmp:rw,size=64m", "-v", f"{volume}:/var/lib/osc",
            "-v", f"{job}:/etc/osc/job/job.js:ro",
            "-v", f"{credential}:/etc/osc/credential/credential.json:ro",
            "-e", "OSC_JOB_PATH=/etc/osc/job/job.js", "-e", "OSC_ADAPTOR=@openfn/language-common",
            "-e", "OSC_CREDENTIAL_PATH=/etc/osc/credential/credential.json",
            "-e", f"OSC_API_KEYS={KEY}", "-e", "OSC_JOB_NAME=image-test"]
    try:
        service = serve(runtime_image, *args, key=KEY)
        assert service.http.post("/inbox", json={}, headers={"Authorization": ""}).status_code == 401
        accepted = service.post({"name": "Grace"})
        assert accepted.status_code == 202, accepted.text
        run = service.wait_run(accepted.json()["run_id"])
        assert run["status"] == "success", run
        assert run["final_state"]["data"] == {"userLength": 3, "tokenLength": len(SECRET_TOKEN),
                                              "echoed": "Grace"}
        assert SECRET_TOKEN not in json.dumps(run)
        assert SECRET_TOKEN not in podman.logs(service.container)
        # XML and forms parse in the image too (defusedxml, python-multipart are in it).
        xml = service.http.post("/inbox", content=b"<name>Ada</name>",
                                headers={"Content-Type": "application/xml"})
        form = service.http.post("/inbox", content=b"name=Lin",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        echoed = [service.wait_run(answer.json()["run_id"])["final_state"]["data"]["echoed"]
                  for answer in (xml, form)]
        assert echoed == ["Ada", "Lin"]  # <name>Ada</name> is {"name": "Ada"}
        user = podman.run("exec", service.container, "id", "-u").stdout.strip()
        assert user == "10001"
        denied = podman.run("exec", service.container, "touch", "/opt/osc/x", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr
        assert podman.run("healthcheck", "run", service.container, check=False).returncode == 0
        # The run outlives its container: a new one on the same data volume still has it.
        podman.remove(service.container)
        again = serve(runtime_image, *args, key=KEY)
        assert again.http.get(f"/runs/{run['run_id']}").json()["status"] == "success"
    finally:
        podman.run("volume", "rm", "-f", volume, check=False)


def test_bake_in_image_serves_its_job_with_only_an_api_key(podman: Podman, runtime_image: str,
                                                          build_image, serve,
                                                          tmp_path: Path) -> None:
    # The credential arrives as a build secret, so it is never in the build context.
    credential = write(tmp_path / "credential.json", json.dumps({"token": SECRET_TOKEN}))
    image = build_image(
        "Dockerfile.runtime", "localhost/osc-hello:test",
        "--build-arg", "JOB=examples/hello/job.js",
        "--build-arg", "ADAPTOR=@openfn/language-common@3.3.4",
        "--build-arg", "CREDENTIAL=secret", "--secret", f"id=credential,src={credential}")
    history = podman.run("history", "--no-trunc", image).stdout
    assert SECRET_TOKEN not in history
    service = serve(image, "-e", f"OSC_API_KEYS={KEY}", key=KEY)
    payload = json.loads((ROOT / "examples/hello/payload.json").read_text())
    accepted = service.post(payload)
    assert accepted.status_code == 202, accepted.text
    run = service.wait_run(accepted.json()["run_id"])
    assert run["status"] == "success", run
    assert run["final_state"]["data"] == {"greeting": "Hello, Ada!", "itemCount": 2, "total": 7.5}
    env = podman.run("exec", service.container, "env").stdout
    assert "OSC_ADAPTOR_INSTALL=never" in env
    assert "OSC_CREDENTIAL_PATH=/etc/osc/credential/credential.json" in env
