"""Workflows in one OpenFnJob (spec.steps, spec.edges): the CRD and the operator's models
agree on what is valid, the render puts every step's expression and credential in the pod, and
the operator (against the emulator) reconciles one, rolls its pods on a step's change and
refuses a cycle with InvalidSpec."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from osc_operator import render
from osc_operator.api import parse_spec
from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, create, credential_secret, get,
                                    merge_patch, operator, ready,  # noqa: F401 (fixture)
                                    template_annotations, wait_for)
from tests.operator.test_crd import problems

HTTP_OLD = "@openfn/language-http@6.4.0"  # not bundled: installed by an init container
WORKFLOW = {
    "steps": [
        {"name": "fetch", "adaptor": HTTP_OLD, "job": "fn(s => s);",
         "credential": {"secretRef": {"name": "fetch-credential", "key": "credential.json"}}},
        {"name": "store", "adaptor": "@openfn/language-common",
         "jobFrom": {"configMapKeyRef": {"name": "store-job", "key": "store.js"}},
         "credential": {"secretRef": {"name": "store-credential", "key": "credential.json"}}},
        {"name": "alert", "adaptor": "@openfn/language-common", "job": "fn(s => s);"},
    ],
    "edges": [
        {"from": "trigger", "to": "fetch"},
        {"from": "fetch", "to": "store", "condition": "on_success"},
        {"from": "fetch", "to": "alert", "condition": "on_failure"},
        {"from": "store", "to": "alert", "condition": "js",
         "expression": "state.data.total > 100"},
    ],
    "trigger": {"webhook": {}},
}


def workflow_job(name: str = "flowy", **changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(WORKFLOW)
    spec.update(changes)
    return {"apiVersion": "osc.openfn.org/v1alpha1", "kind": "OpenFnJob",
            "metadata": {"name": name}, "spec": spec}


def with_edges(*edges: dict[str, Any]) -> dict[str, Any]:
    return workflow_job(edges=[*WORKFLOW["edges"], *edges])


def test_a_workflow_is_valid_for_the_crd_and_the_operator() -> None:
    assert problems(workflow_job()) == []
    spec = parse_spec(workflow_job()["spec"])
    assert [step.name for step in spec.steps] == ["fetch", "store", "alert"]
    assert spec.adaptors() == [HTTP_OLD, "@openfn/language-common"]


STEPS = WORKFLOW["steps"]
INVALID = {
    "two steps of one name": (workflow_job(steps=[*STEPS, {**STEPS[2]}]),
                              "step names must be unique"),
    "an edge to no step": (with_edges({"from": "store", "to": "nowhere"}),
                           "every edge leads from trigger or a step"),
    "an edge from no step": (with_edges({"from": "nowhere", "to": "store"}),
                             "every edge leads from trigger or a step"),
    "two starts": (with_edges({"from": "trigger", "to": "store"}), "exactly one edge from trigger"),
    "no start": (workflow_job(edges=WORKFLOW["edges"][1:]), "exactly one edge from trigger"),
    "a js edge without expression": (with_edges({"from": "store", "to": "alert",
                                                 "condition": "js"}), "condition js takes"),
    "an expression that requires": (with_edges({"from": "store", "to": "alert", "condition": "js",
                                                "expression": "require('fs')"}),
                                    "may not use import, require"),
    "a long expression": (with_edges({"from": "store", "to": "alert", "condition": "js",
                                      "expression": "x" * 256}), "is too long"),
    "a step's edge to itself": (with_edges({"from": "store", "to": "store"}),
                                "an edge leads to a step other than its own"),
    "a workflow with spec.adaptor": (workflow_job(adaptor="@openfn/language-common"),
                                     "a workflow names its adaptor and credential per step"),
    "a workflow and a job": (workflow_job(job="fn(s => s)"),
                             "set exactly one of: job, jobFrom, steps"),
    "a step named trigger": (workflow_job(steps=[*STEPS, {**STEPS[2], "name": "trigger"}]),
                             "a step cannot be named trigger"),
    "an unknown condition": (with_edges({"from": "store", "to": "alert", "condition": "maybe"}),
                             "is not one of"),
}


@pytest.mark.parametrize("name", INVALID)
def test_invalid_workflows_are_refused_by_the_crd_and_the_operator(name: str) -> None:
    job, message = INVALID[name]
    found = problems(job)
    assert any(message in problem for problem in found), found
    with pytest.raises(ValidationError):
        parse_spec(job["spec"])


def test_a_cycle_is_refused_by_the_operator_naming_it() -> None:
    job = with_edges({"from": "alert", "to": "fetch"})
    assert problems(job) == []  # CEL cannot follow paths: the operator does
    with pytest.raises(ValidationError, match="edges form a cycle \\(fetch → .*alert → fetch\\)"):
        parse_spec(job["spec"])


def test_the_render_mounts_every_step_and_its_own_credential() -> None:
    spec = parse_spec(workflow_job()["spec"])
    configmap = render.render_job_configmap("flowy", "default", spec)
    plan = json.loads(configmap["data"]["workflow.json"])
    assert plan["steps"] == [
        {"name": "fetch", "adaptor": HTTP_OLD, "file": "step-fetch.js",
         "credential": "../credential/fetch.json"},
        {"name": "store", "adaptor": "@openfn/language-common", "file": "step-store.js",
         "credential": "../credential/store.json"},
        {"name": "alert", "adaptor": "@openfn/language-common", "file": "step-alert.js"}]
    assert plan["edges"][3] == {"from": "store", "to": "alert", "condition": "js",
                                "expression": "state.data.total > 100", "enabled": True}
    assert set(configmap["data"]) == {"workflow.json", "step-fetch.js", "step-alert.js"}
    checksums = render.Checksums(job="p", extra={"step-fetch-job": "a"})
    pod = render.render_deployment("flowy", "default", spec, image="osc:1",
                                   checksums=checksums)["spec"]["template"]["spec"]
    env = {var["name"]: var.get("value") for var in pod["containers"][0]["env"]}
    assert env["OSC_WORKFLOW_PATH"] == "/etc/osc/job/workflow.json"
    assert not {"OSC_JOB_PATH", "OSC_ADAPTOR", "OSC_CREDENTIAL_PATH"} & set(env)
    assert env["OSC_ADAPTOR_INSTALL"] == "never"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    job_sources = volumes["job"]["projected"]["sources"]
    assert job_sources[1] == {"configMap": {"name": "store-job", "items": [
        {"key": "store.js", "path": "step-store.js"}]}}
    credentials = volumes["credential"]["projected"]["sources"]
    assert [(s["secret"]["name"], s["secret"]["items"][0]["path"], s["secret"]["items"][0]["mode"])
            for s in credentials] == [("fetch-credential", "fetch.json", 0o400),
                                      ("store-credential", "store.json", 0o400)]
    assert [(c["name"], {v["name"]: v["value"] for v in c["env"]}["OSC_ADAPTOR"])
            for c in pod["initContainers"]] == [("install-adaptor", HTTP_OLD)]


@pytest.fixture(scope="module")
def flowy(kube_emulator: RunningEmulator, operator: dict) -> dict[str, Any]:  # noqa: F811
    for step in ("fetch", "store"):
        create(kube_emulator, f"{CORE}/secrets",
               credential_secret(f"{step}-credential", {"token": f"{step}-token"}))
    create(kube_emulator, f"{CORE}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "store-job"},
        "data": {"store.js": "fn(s => ({...s, stored: true}));"}})
    created = create(kube_emulator, JOBS, workflow_job())
    wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/flowy"), "flowy's Deployment", 60)
    return created


def test_the_operator_reconciles_a_workflow(kube_emulator: RunningEmulator,  # noqa: F811
                                            flowy: dict) -> None:
    configmap = get(kube_emulator, f"{CORE}/configmaps/flowy-job")
    assert json.loads(configmap["data"]["workflow.json"])["edges"][0]["to"] == "fetch"
    annotations = template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/flowy"))
    assert {"osc.openfn.org/step-fetch-credential-checksum",
            "osc.openfn.org/step-store-job-checksum"} <= set(annotations)


@pytest.mark.parametrize("what,path,patch,key", [
    ("a step's credential", "secrets/store-credential",
     {"stringData": {"credential.json": json.dumps({"token": "rotated"})}}, "step-store-credential"),
    ("a step's jobFrom", "configmaps/store-job", {"data": {"store.js": "fn(s => s);"}},
     "step-store-job"),
])
def test_a_step_change_rolls_the_pods(kube_emulator: RunningEmulator, flowy: dict,  # noqa: F811
                                      what: str, path: str, patch: dict, key: str) -> None:
    annotation = f"osc.openfn.org/{key}-checksum"
    before = template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/flowy"))[annotation]
    merge_patch(kube_emulator, f"{CORE}/{path}", patch)
    wait_for(lambda: template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/flowy"))[annotation]
             != before, f"{what} to roll the pods")


def test_a_cycle_is_reported_as_invalid_spec(kube_emulator: RunningEmulator,  # noqa: F811
                                             operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, {**with_edges({"from": "alert", "to": "fetch"}),
                                 "metadata": {"name": "loopy"}})
    condition = wait_for(lambda: ready(kube_emulator, "loopy"), "loopy's Ready condition")
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert "edges form a cycle" in condition["message"]
    assert get(kube_emulator, f"{DEPLOYMENTS}/loopy") is None


def test_a_failed_install_of_any_steps_adaptor_is_found() -> None:
    from osc_operator import adaptor_install

    spec = parse_spec(workflow_job(steps=[*STEPS[:2], {**STEPS[2], "adaptor": "x-adaptor@1.0.0"}])
                      ["spec"])
    pod = {"spec": render.render_deployment("flowy", "default", spec, image="osc:1",
                                            checksums=render.Checksums(job="p"))
           ["spec"]["template"]["spec"]}
    assert [c["name"] for c in pod["spec"]["initContainers"]] == [
        "install-adaptor", "install-adaptor-2"]
    pod["status"] = {"initContainerStatuses": [
        {"name": "install-adaptor", "state": {"terminated": {"exitCode": 0}}},
        {"name": "install-adaptor-2", "state": {"terminated": {
            "exitCode": 1, "message": "install-adaptor: npm: x-adaptor@1.0.0 not found"}}}]}
    assert adaptor_install.install_failure(pod, "x-adaptor@1.0.0") == "npm: x-adaptor@1.0.0 not found"
    assert adaptor_install.install_failure(pod, HTTP_OLD) is None
