"""`osc import`: the microservice's sample project shape and a Lightning project with a
branching workflow become manifests the CRD accepts and the operator (against the emulator)
reconciles; the imported workflow then runs in the real runtime, on both engines, from the
files its Deployment mounts: the right steps, each with its own credential."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, ROOT, create, get,
                                    operator, wait_for)  # noqa: F401 (fixture)
from tests.operator.test_crd import problems
from tests.runtime.runtime_server import RuntimeProcess, post_run, wait_run

DATA = Path(__file__).parent / "data" / "import"
OSC = ROOT / ".venv" / "bin" / "osc"
PASSWORD = "microservice-password-never-printed"
TOKENS = {"source-api-credential": {"sourceToken": "source-secret-1234"},
          "target-api-credential": {"targetToken": "target-secret-5678"},
          "pager-credential": {"pagerToken": "pager-secret-9012"}}


def osc(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(OSC), *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def documents(folder: Path) -> dict[str, dict[str, Any]]:
    """Every manifest written, by `Kind/name`."""
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def test_help_describes_the_command() -> None:
    answer = osc("import", "--help")
    assert answer.returncode == 0
    assert "--namespace" in answer.stdout and "--check" in answer.stdout
    assert "Lightning" in answer.stdout


def test_a_microservice_project_becomes_jobs_a_workflow_and_secrets(tmp_path: Path) -> None:
    answer = osc("import", DATA / "microservice" / "project.yaml", "-o", tmp_path,
                 "--namespace", "demo")
    assert answer.returncode == 0, answer.stderr
    assert PASSWORD not in answer.stdout + answer.stderr
    assert "NOT TRANSLATED: jobs.job-1: criteria 'form.tags' matches by containment" \
        in answer.stdout
    manifests = documents(tmp_path)
    assert set(manifests) == {"Secret/my-secret-credential", "OpenFnJob/job-1",
                              "OpenFnJob/job-2"}
    chain = manifests["OpenFnJob/job-1"]["spec"]
    assert [step["name"] for step in chain["steps"]] == ["job-1", "job-3", "job-4"]
    assert chain["edges"] == [{"from": "trigger", "to": "job-1"},
                              {"from": "job-1", "to": "job-3", "condition": "on_success"},
                              {"from": "job-3", "to": "job-4", "condition": "on_failure"}]
    assert chain["trigger"] == {"webhook": {"filter": {"a": 1, "form.id": "intake"}}}
    cron = manifests["OpenFnJob/job-2"]
    assert cron["metadata"]["namespace"] == "demo"
    assert cron["spec"]["trigger"] == {"cron": {"schedule": "*/5 * * * *"}}
    assert cron["spec"]["credential"]["secretRef"]["name"] == "my-secret-credential"
    secret_file = tmp_path / "credentials.secret.yaml"
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    values = json.loads(manifests["Secret/my-secret-credential"]["stringData"]["credential.json"])
    assert values == {"username": "user@example.com", "password": PASSWORD}
    for name, manifest in manifests.items():
        if manifest["kind"] == "OpenFnJob":
            assert problems(manifest) == [], name
    assert osc("import", DATA / "microservice", "-o", tmp_path, "--check").returncode == 1


def test_a_lightning_project_becomes_workflows_and_secret_stubs(tmp_path: Path) -> None:
    answer = osc("import", DATA / "lightning", "-o", tmp_path, "--check")
    assert answer.returncode == 1  # the kafka workflow
    assert ("NOT TRANSLATED: workflows.Kafka-intake: kafka triggers are not supported"
            in answer.stdout)
    manifests = documents(tmp_path)
    assert set(manifests) == {"OpenFnJob/referrals", "OpenFnJob/nightly-sync",
                              *(f"Secret/{name}" for name in TOKENS)}
    referrals = manifests["OpenFnJob/referrals"]["spec"]
    assert [(s["name"], s["adaptor"], (s.get("credential") or {}).get("secretRef", {}).get("name"))
            for s in referrals["steps"]] == [
        ("fetch-referrals", "@openfn/language-common", "source-api-credential"),
        ("store-referrals", "@openfn/language-common", "target-api-credential"),
        ("page-on-call", "@openfn/language-common", "pager-credential"),
        ("report-big-batch", "@openfn/language-common", None)]
    assert referrals["edges"][1:] == [
        {"from": "fetch-referrals", "to": "store-referrals", "condition": "on_success"},
        {"from": "fetch-referrals", "to": "page-on-call", "condition": "on_failure"},
        {"from": "store-referrals", "to": "report-big-batch", "condition": "js",
         "expression": "state.data.count > 10"}]
    assert manifests["OpenFnJob/nightly-sync"]["spec"]["trigger"] == {
        "cron": {"schedule": "0 2 * * *"}}
    stubs = (tmp_path / "credentials.stub.yaml").read_text()
    assert "source-api-credential: Lightning credential 'Source API' (owner ada@example.org)" \
        in stubs
    for name, manifest in manifests.items():
        if manifest["kind"] == "OpenFnJob":
            assert problems(manifest) == [], name


def test_a_project_osc_cannot_read_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "project.yaml").write_text("just: [a, list]\n")
    answer = osc("import", tmp_path, "-o", tmp_path / "out")
    assert answer.returncode == 2
    assert "not an OpenFn project" in answer.stderr
    assert osc("import", tmp_path / "missing.yaml").returncode == 2


@pytest.fixture(scope="module")
def imported(kube_emulator: RunningEmulator, operator: dict,  # noqa: F811
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The Lightning import applied as `kubectl apply -f` would, its stubs filled in."""
    folder = tmp_path_factory.mktemp("imported")
    assert osc("import", DATA / "lightning", "-o", folder).returncode == 0
    manifests = documents(folder)
    for name, manifest in manifests.items():
        if manifest["kind"] == "Secret":
            filled = {**manifest, "stringData": {"credential.json": json.dumps(
                TOKENS[manifest["metadata"]["name"]])}}
            create(kube_emulator, f"{CORE}/secrets", filled)
    for name, manifest in manifests.items():
        if manifest["kind"] == "OpenFnJob":
            create(kube_emulator, JOBS, manifest)
    for job in ("referrals", "nightly-sync"):
        wait_for(lambda job=job: get(kube_emulator, f"{DEPLOYMENTS}/{job}"), f"{job}'s Deployment",
                 60)
    return manifests


def mount_like_the_kubelet(kube: RunningEmulator, job: str, root: Path) -> Path:
    """The job's pod volumes `job` and `credential`, written under `root` as the kubelet
    would mount them under /etc/osc; returns the plan's path."""
    pod = get(kube, f"{DEPLOYMENTS}/{job}")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for volume in ("job", "credential"):
        folder = root / volume
        folder.mkdir(parents=True)
        for source in volumes[volume]["projected"]["sources"]:
            kind, ref = next(iter(source.items()))
            plural = "configmaps" if kind == "configMap" else "secrets"
            data = get(kube, f"{CORE}/{plural}/{ref['name']}")["data"]
            for item in ref["items"]:
                value = data[item["key"]]
                text = value if kind == "configMap" else base64.b64decode(value).decode()
                (folder / item["path"]).write_text(text)
    env = {var["name"]: var.get("value") for var in pod["containers"][0]["env"]}
    return root / "job" / Path(env["OSC_WORKFLOW_PATH"]).name


@pytest.mark.parametrize("engine", ["core", "warm"])
def test_the_imported_workflow_runs_each_step_with_its_own_credential(
        kube_emulator: RunningEmulator, imported: dict, engine: str,  # noqa: F811
        tmp_path: Path) -> None:
    plan = mount_like_the_kubelet(kube_emulator, "referrals", tmp_path / "etc-osc")
    runtime = RuntimeProcess(tmp_path / "data", {"OSC_WORKFLOW_PATH": str(plan),
                                                 "OSC_ENGINE": engine}).start()
    try:
        with runtime.client() as client:
            big = wait_run(client, post_run(client, {"count": 12}).json()["run_id"], 120)
            failing = wait_run(client, post_run(client, {"fail": True}).json()["run_id"], 120)
            log = client.get(f"/runs/{big['run_id']}/log").text
    finally:
        runtime.stop()
    assert big["status"] == "success", big
    assert [s["name"] for s in big["steps"]] == ["fetch-referrals", "store-referrals",
                                                  "report-big-batch"]
    data = big["final_state"]["data"]
    assert data["fetch"] == {"keys": ["sourceToken"], "token": "source-secret-1234"[::-1]}
    assert data["store"] == {"keys": ["targetToken"], "token": "target-secret-5678"[::-1]}
    assert data["big"] is True and "page" not in data
    assert "[osc] step store-referrals success" in log
    assert failing["status"] == "success", failing  # handled by its on_failure step
    assert [(s["name"], s["status"]) for s in failing["steps"]] == [
        ("fetch-referrals", "failed"), ("page-on-call", "success")]
    assert failing["final_state"]["data"]["page"] == {"keys": ["pagerToken"],
                                                      "errors": ["fetch-referrals"]}
    shown = json.dumps([big, failing]) + log
    assert not [token for values in TOKENS.values() for token in values.values()
                if token in shown]


def test_a_broken_project_file_is_reported_without_its_lines(tmp_path: Path) -> None:
    """PyYAML's own message quotes the line at fault: here, a credential's value."""
    (tmp_path / "project.yaml").write_text(
        f"credentials:\n  c:\n    password: {PASSWORD}: [oops\njobs: {{}}\n")
    answer = osc("import", tmp_path, "-o", tmp_path / "out")
    assert answer.returncode == 2
    assert "not YAML (mapping values are not allowed here at line 3" in answer.stderr
    assert PASSWORD not in answer.stdout + answer.stderr


def test_credential_values_written_in_place_of_a_name_are_never_printed(tmp_path: Path) -> None:
    project = {"jobs": {"job-1": {"expression": "fn(s => s)", "adaptor": "@openfn/language-common",
                                  "trigger": "t", "credential": {"password": PASSWORD}}},
               "triggers": {"t": {"criteria": '{"a": 1}'}}}
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(project))
    answer = osc("import", tmp_path, "-o", tmp_path / "out", "--check")
    assert answer.returncode == 1, answer.stderr
    assert ("NOT TRANSLATED: jobs.job-1: credential (values, not a name) is not in credentials"
            in answer.stdout)
    assert PASSWORD not in answer.stdout + answer.stderr
    assert "credential" not in documents(tmp_path / "out")["OpenFnJob/job-1"]["spec"]
