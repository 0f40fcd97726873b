"""README (Workflows, osc import): a Lightning project imported with `osc import` and applied
with kubectl becomes Ready on the real control plane; its Deployment runs the plan
(`OSC_WORKFLOW_PATH`), the job ConfigMap holds the plan and every step, each step's
credential Secret is its own 0400 file, and a change to one step's Secret rolls the pods."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cluster.jobs import deployment, env_of, kubectl_wait_ready
from tests.cluster.kubectl import wait_for
from tests.tools import ROOT

LIGHTNING = ROOT / "tests" / "operator" / "data" / "import" / "lightning"
OSC = ROOT / ".venv" / "bin" / "osc"
STEPS = ["fetch-referrals", "store-referrals", "page-on-call", "report-big-batch"]
STEP_SECRETS = {"fetch-referrals": "source-api-credential",
                "store-referrals": "target-api-credential", "page-on-call": "pager-credential"}


def _import(out: Path) -> None:
    answer = subprocess.run([str(OSC), "import", str(LIGHTNING), "-o", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr  # without --check: the kafka one is reported
    assert "NOT TRANSLATED: workflows.Kafka-intake" in answer.stdout


def _pod_annotations(cluster, namespace: str, name: str) -> dict[str, str]:
    template = deployment(cluster, namespace, name)["spec"]["template"]
    return template["metadata"].get("annotations") or {}


def test_an_imported_workflow_runs_its_steps_from_one_deployment(osc, tmp_path: Path) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "referrals"
    _import(tmp_path)
    cluster.kubectl("apply", "-n", namespace, f"--filename={tmp_path}")
    kubectl_wait_ready(cluster, namespace, name, "nightly-sync", timeout=120)

    pod = deployment(cluster, namespace, name)["spec"]["template"]["spec"]
    runtime = next(c for c in pod["containers"] if c["name"] == "runtime")
    env = env_of(runtime)
    assert env["OSC_WORKFLOW_PATH"] == "/etc/osc/job/workflow.json"
    assert "OSC_ADAPTOR" not in env and "OSC_JOB_PATH" not in env
    data = cluster.child(namespace, "ConfigMap", f"{name}-job")["data"]
    plan = json.loads(data["workflow.json"])
    assert [step["name"] for step in plan["steps"]] == STEPS
    assert {f"step-{step}.js" for step in STEPS} <= set(data)
    assert {"from": "store-referrals", "to": "report-big-batch", "condition": "js",
            "expression": "state.data.count > 10", "enabled": True} in plan["edges"]

    volume = next(v for v in pod["volumes"] if v["name"] == "credential")
    files = {item["path"]: (source["secret"]["name"], item["mode"])
             for source in volume["projected"]["sources"] for item in source["secret"]["items"]}
    assert files == {f"{step}.json": (secret, 0o400) for step, secret in STEP_SECRETS.items()}

    before = _pod_annotations(cluster, namespace, name)
    key = "osc.openfn.org/step-page-on-call-credential-checksum"
    assert key in before
    cluster.kubectl("patch", "secret", "pager-credential", "-n", namespace, "--type=merge",
                    "-p", json.dumps({"stringData": {"credential.json": '{"pagerToken": "x"}'}}))
    wait_for(lambda: _pod_annotations(cluster, namespace, name).get(key) != before[key],
             "the pager step's credential checksum to change")
    after = _pod_annotations(cluster, namespace, name)
    other = "osc.openfn.org/step-fetch-referrals-credential-checksum"
    assert after[other] == before[other]  # only the changed step's checksum moved
    kubectl_wait_ready(cluster, namespace, name)
