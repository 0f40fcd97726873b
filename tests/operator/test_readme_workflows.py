"""The README's Workflows and `osc import` examples stay true: its OpenFnJob is valid for the
CRD and the operator and renders as the section says; its plan file is one the runtime reads,
in the shape the operator writes; its `osc import` session prints what the command prints."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import yaml

from osc_operator import render, workflow_render
from osc_operator.api import parse_spec
from osc_runtime.workflow.plan import load_plan
from tests.operator.test_crd import problems
from tests.operator.test_import import DATA, OSC
from tests.tools import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("<!-- section: workflows -->")[1].split("<!-- end: workflows -->")[0]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def block(kind: str) -> str:
    found = [body for language, body in FENCE.findall(SECTION) if language == kind]
    assert len(found) == 1, f"one {kind} block expected in the Workflows section"
    return found[0]


def test_the_workflow_example_is_valid_and_renders_as_described() -> None:
    job = yaml.safe_load(block("yaml"))
    assert problems(job) == []
    spec = parse_spec(job["spec"])
    pod = render.render_deployment("referrals", "default", spec, image="osc:1",
                                   checksums=render.Checksums(job="p"))["spec"]["template"]
    runtime = next(c for c in pod["spec"]["containers"] if c["name"] == "runtime")
    env = {var["name"]: var.get("value") for var in runtime["env"]}
    assert env["OSC_WORKFLOW_PATH"] == "/etc/osc/job/workflow.json" and "OSC_ADAPTOR" not in env
    # language-dhis2 is not in the image: its own install init container, as the text says
    installs = [c["name"] for c in pod["spec"].get("initContainers") or []]
    assert installs == ["install-adaptor"]
    credential = next(v for v in pod["spec"]["volumes"] if v["name"] == "credential")
    paths = [item["path"] for source in credential["projected"]["sources"]
             for item in source["secret"]["items"]]
    assert paths == ["fetch.json", "store.json"]


def test_the_plan_file_example_reads_and_has_the_operators_shape(tmp_path: Path) -> None:
    example = json.loads(block("json"))
    job_dir, credential_dir = tmp_path / "job", tmp_path / "credential"
    job_dir.mkdir()
    credential_dir.mkdir()
    (job_dir / "workflow.json").write_text(json.dumps(example))
    (job_dir / "step-fetch.js").write_text("fn(state => state);")
    (credential_dir / "fetch.json").write_text('{"token": "t"}')
    plan = load_plan(job_dir / "workflow.json")
    assert [(step.name, step.credential) for step in plan.steps] == [("fetch", {"token": "t"})]
    written = workflow_render.plan(parse_spec(yaml.safe_load(block("yaml"))["spec"]))
    assert set(example["steps"][0]) == set(written["steps"][0])
    # the same relative paths the operator writes for the README's step `fetch`
    assert example["steps"][0] == {**written["steps"][0], "adaptor": example["steps"][0]["adaptor"]}


def test_the_osc_import_session_prints_what_the_command_prints(tmp_path: Path) -> None:
    session = [line for line in block("console").splitlines() if line]
    command, printed = session[0], session[1:]
    assert command.startswith("$ osc import ")
    printed = [line for line in printed if not line.startswith("$ kubectl")]
    project = tmp_path / "path" / "to" / "project.yaml"
    project.parent.mkdir(parents=True)
    shutil.copy(DATA / "microservice" / "project.yaml", project)
    args = shlex.split(command.removeprefix("$ osc "))
    answer = subprocess.run([str(OSC), *args], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.splitlines() == printed
    assert (tmp_path / "manifests" / "job-1.yaml").is_file()
