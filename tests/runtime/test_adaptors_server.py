"""Any adaptor, any version, seen from outside: the real runtime (`python -m osc_runtime`) under
uvicorn, real npm against the registry, real OpenFn core. The npm download cache is shared with
test_adaptors.py (one folder under pytest's base temp); nothing preinstalled is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runtime_server import REPO, RuntimeProcess, post_run, wait_run

from osc_runtime.adaptors import INSTALL_MARKER

HTTP = "@openfn/language-http"
OLD = "6.4.3"  # not the bundled 7.2.10
UNREACHABLE = "http://127.0.0.1:9/"
JOB = "fn(state => ({ ...state, data: { greeting: `hello ${state.data.name}` } }))"
REFUSED = ["../x", "git+https://example.com/x.git", "a; rm -rf /", "file:/etc", "x@latest",
           "a@1 --ignore-scripts=false", "a@1.2.3.4"]


def npm_env(factory: pytest.TempPathFactory) -> dict[str, str]:
    # Retries off so a failing registry fails at once; the shared download cache.
    cache = factory.getbasetemp() / "npm-cache"
    return {"npm_config_cache": str(cache), "npm_config_fetch_retries": "0"}


def runtime_for(factory, data_dir: Path, adaptor: str, **env: str) -> RuntimeProcess:
    env = npm_env(factory) | {"OSC_JOB": JOB, "OSC_ADAPTOR": adaptor} | env
    return RuntimeProcess(data_dir, env)


def readiness(runtime: RuntimeProcess) -> httpx.Response:
    return httpx.get(runtime.url + "/readyz", timeout=10)


def wait_readiness(runtime: RuntimeProcess, until, timeout: float = 180) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while not until(response := readiness(runtime)) and time.monotonic() < deadline:
        assert runtime.process.poll() is None, runtime.log_text()[-2000:]
        time.sleep(0.2)
    return response


def run_once(runtime: RuntimeProcess) -> tuple[dict, str]:
    with runtime.client() as client:
        accepted = post_run(client, {"name": "osc"})
        assert accepted.status_code == 202, accepted.text
        run = wait_run(client, accepted.json()["run_id"])
        return run, client.get(f"/runs/{run['run_id']}/log").text


def command(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
    return subprocess.run([sys.executable, "-m", "osc_runtime", *args], cwd=REPO,
                          env=clean | env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def older_http(tmp_path_factory) -> Iterator[tuple[RuntimeProcess, httpx.Response]]:
    """A runtime asked for HTTP@OLD, and its first /readyz answer (while npm installs)."""
    data_dir = tmp_path_factory.mktemp("older") / "data"
    runtime = runtime_for(tmp_path_factory, data_dir, f"{HTTP}@{OLD}")
    runtime.start(ready=False)
    first = readiness(runtime)
    yield runtime, first
    runtime.stop()


def test_a_missing_version_is_installed_before_ready(older_http):
    runtime, first = older_http
    assert first.status_code == 503 and "adaptor" in first.json()["reason"]
    ready = wait_readiness(runtime, lambda response: response.status_code != 503)
    assert ready.status_code == 200, ready.text
    assert ready.json()["adaptor"] == {"name": HTTP, "version": OLD}
    run, log = run_once(runtime)
    assert run["status"] == "success", log
    assert f"{HTTP}@{OLD}" in log  # core's banner: the version really loaded
    assert (runtime.data_dir / "adaptors" / HTTP / OLD / INSTALL_MARKER).is_file()


def test_a_restart_on_the_same_data_dir_installs_nothing(older_http, tmp_path_factory):
    first, _ = older_http
    wait_readiness(first, lambda response: response.status_code == 200)
    first.stop()
    marker = first.data_dir / "adaptors" / HTTP / OLD / INSTALL_MARKER
    before = (marker.stat().st_mtime_ns, sorted(marker.parent.parent.iterdir()))
    # An unreachable registry: had npm run, the service could not become ready.
    again = runtime_for(tmp_path_factory, first.data_dir, f"{HTTP}@~6.4.0",
                        OSC_NPM_REGISTRY=UNREACHABLE)
    again.output = first.data_dir.parent / "restart-stdout.log"
    try:
        again.start(ready=True, timeout=120)
        run, log = run_once(again)
    finally:
        again.stop()
    assert run["status"] == "success" and f"{HTTP}@{OLD}" in log
    assert (marker.stat().st_mtime_ns, sorted(marker.parent.parent.iterdir())) == before
    assert "installing adaptor" not in again.log_text()
    assert f"adaptor {HTTP}@{OLD} ready (installed" in again.log_text()


@pytest.mark.parametrize(("adaptor", "npm_says"), [
    (f"{HTTP}@6.4.9", "No matching version found for @openfn/language-http@6.4.9"),
    ("@openfn/language-does-not-exist-osc", "E404"),
])
def test_an_unknown_adaptor_keeps_the_service_not_ready_with_the_reason(
    adaptor, npm_says, tmp_path_factory
):
    runtime = runtime_for(tmp_path_factory, tmp_path_factory.mktemp("unknown") / "data", adaptor)
    runtime.start(ready=False)
    try:
        failed = wait_readiness(runtime, lambda response: "failed" in response.text)
        assert failed.status_code == 503 and npm_says in failed.json()["reason"]
        assert runtime.process.poll() is None  # still serving, not crash-looping
        assert npm_says in runtime.log_text()
        with runtime.client() as client:  # a run could only wait forever: none is accepted
            refused = post_run(client, {"name": "osc"})
            assert refused.status_code == 503, refused.text
            assert "cannot be installed" in refused.json()["error"]
            assert npm_says in refused.json()["error"]
            assert client.get("/runs").json()["runs"] == []
            assert npm_says in client.get("/job").json()["reason"]  # what the console shows
    finally:
        runtime.stop()


def test_an_unreachable_registry_is_retried_while_runs_queue(tmp_path_factory):
    runtime = runtime_for(tmp_path_factory, tmp_path_factory.mktemp("offline") / "data",
                          f"{HTTP}@{OLD}", OSC_NPM_REGISTRY=UNREACHABLE)
    runtime.start(ready=False)
    try:
        failed = wait_readiness(runtime, lambda response: "retrying" in response.text)
        assert failed.status_code == 503 and "ECONNREFUSED" in failed.json()["reason"]
        with runtime.client() as client:
            accepted = post_run(client, {"name": "osc"})
            assert accepted.status_code == 202, accepted.text  # queued until the adaptor comes
            assert client.get(f"/runs/{accepted.json()['run_id']}").json()["status"] == "queued"
    finally:
        runtime.stop()


@pytest.mark.parametrize("adaptor", REFUSED)
def test_a_spec_that_is_not_a_package_stops_start_up(adaptor, tmp_path):
    done = command(OSC_JOB=JOB, OSC_AUTH="none", OSC_ADAPTOR=adaptor, OSC_DATA_DIR=str(tmp_path))
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "OSC_ADAPTOR" in done.stderr, done.stderr
    assert not (tmp_path / "adaptors").exists()  # npm never ran


def test_never_install_with_a_missing_adaptor_stops_start_up(tmp_path):
    done = command(OSC_JOB=JOB, OSC_AUTH="none", OSC_ADAPTOR=f"{HTTP}@{OLD}",
                   OSC_ADAPTOR_INSTALL="never", OSC_DATA_DIR=str(tmp_path))
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert "OSC_ADAPTOR" in done.stderr and f"{HTTP}@{OLD}" in done.stderr
    assert "OSC_ADAPTOR_INSTALL=never" in done.stderr


def test_install_adaptor_then_a_runtime_that_may_not_install(tmp_path_factory):
    # The operator's pod: an init container installs into a shared folder, then the runtime
    # starts with installs forbidden and finds it there.
    shared = tmp_path_factory.mktemp("shared")
    env = npm_env(tmp_path_factory) | {"OSC_ADAPTOR": f"{HTTP}@{OLD}",
                                       "OSC_ADAPTORS_DIR": str(shared)}
    for expected in ("(downloaded)", "(installed)"):  # a second init run finds it there
        done = command("install-adaptor", **env)
        assert done.returncode == 0 and expected in done.stdout, done.stderr
    data_dir = tmp_path_factory.mktemp("main") / "data"
    runtime = runtime_for(tmp_path_factory, data_dir, f"{HTTP}@{OLD}",
                          OSC_ADAPTORS_DIR=str(shared), OSC_ADAPTOR_INSTALL="never")
    try:
        runtime.start(ready=True, timeout=120)
        run, log = run_once(runtime)
    finally:
        runtime.stop()
    assert run["status"] == "success" and f"{HTTP}@{OLD}" in log
    marker = json.loads((shared / HTTP / OLD / INSTALL_MARKER).read_text())
    assert marker["version"] == OLD


def test_install_adaptor_fails_with_npm_message(tmp_path_factory, tmp_path):
    env = npm_env(tmp_path_factory) | {"OSC_ADAPTOR": f"{HTTP}@6.4.9",
                                       "OSC_ADAPTORS_DIR": str(tmp_path)}
    done = command("install-adaptor", **env)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "No matching version found for @openfn/language-http@6.4.9" in last
