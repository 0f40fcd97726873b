"""Flow graph and wiring, as pure functions (the emulator tests show the operator using them)."""

from __future__ import annotations

import base64
import json
from typing import Any

import kubernetes_validate

from osc_operator import flow, render
from osc_operator.api import parse_spec


def job(name: str, after: str | None = None, on: str = "success", **spec: Any) -> dict:
    trigger = {"flow": {"after": after, "on": on}} if after else {"webhook": {}}
    return {"metadata": {"name": name}, "spec": {
        "job": "fn(s => s)", "adaptor": "@openfn/language-common", "trigger": trigger, **spec}}


def test_cycles_are_found_from_every_job_on_them_only() -> None:
    edges = flow.upstream_edges([job("a", "c"), job("b", "a"), job("c", "b"), job("d", "a"),
                                 job("self", "self"), job("e")])
    assert flow.cycle_through("a", edges) == ["a", "c", "b"]
    assert flow.cycle_through("b", edges) == ["b", "a", "c"]
    assert flow.cycle_through("d", edges) is None  # flows into the cycle, is not on it
    assert flow.cycle_through("self", edges) == ["self"]
    assert flow.cycle_through("e", edges) is None
    assert flow.chain("d", edges) == ["d", "a", "c", "b"]
    assert flow.chain("missing", edges) == ["missing"]


def test_targets_skip_jobs_on_a_cycle_invalid_or_being_deleted() -> None:
    leaving = job("leaving", "up")
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    jobs = [job("up"), job("ok", "up", "failure"), job("bad", "up", adaptor="../evil"),
            job("loop", "up"), job("up-2", "loop"), leaving]
    jobs[0]["spec"]["trigger"] = {"flow": {"after": "up-2", "on": "success"}}  # up→loop→up-2→up
    assert [t.name for t in flow.graph_of("ns", jobs).targets_of("ns", "up")] == ["ok"]
    graph = flow.graph_of("ns", [job("up"), job("z", "up"), job("y", "up")])
    assert [t.name for t in graph.targets_of("ns", "up")] == ["y", "z"]
    assert graph.targets_of("other", "up") == []  # namespaces do not mix


def test_graph_reads_edges_like_the_plain_mapping() -> None:
    jobs = [job("a", "c"), job("b", "a"), job("c", "b"), job("d", "a"), job("e")]
    edges = flow.graph_of("ns", jobs).edges("ns")
    assert dict(edges) == flow.upstream_edges(jobs)
    assert flow.cycle_through("a", edges) == ["a", "c", "b"]
    assert flow.chain("d", edges) == ["d", "a", "c", "b"]
    assert flow.graph_of("ns", jobs).downstreams_of("ns", "a") == ["b", "d"]


def test_link_changes_only_with_what_other_jobs_read() -> None:
    base = job("load", "fetch")
    assert flow.link_of(job("fetch")) is None
    assert flow.link_of(base) == flow.link_of(job("load", "fetch", job="fn(s => 1)"))
    assert flow.link_of(base) != flow.link_of(job("load", "fetch", "failure"))
    assert flow.link_of(job("load", "fetch", adaptor="../evil")).target is None  # refused


def test_the_wiring_lives_beside_the_deployment_never_in_its_pod_template() -> None:
    spec = parse_spec(job("fetch")["spec"])
    deployment = render.render_deployment("fetch", "shop", spec, image="osc-runtime:0.1.0",
                                          checksums=render.Checksums(job="x"))
    kubernetes_validate.validate(deployment, "1.37.0", strict=True)
    pod = deployment["spec"]["template"]["spec"]
    env = {var["name"]: var["value"] for var in pod["containers"][0]["env"]}
    assert env["OSC_FLOW_TARGETS_PATH"] == "/etc/osc/flow/targets.json"
    assert {"name": "flow", "mountPath": "/etc/osc/flow", "readOnly": True} in pod[
        "containers"][0]["volumeMounts"]  # the whole folder: the kubelet refreshes it
    sources = next(v for v in pod["volumes"] if v["name"] == "flow")["projected"]["sources"]
    assert sources == [
        {"configMap": {"name": "fetch-flow", "optional": True,
                       "items": [{"key": "targets.json", "path": "targets.json"}]}},
        {"secret": {"name": "fetch-flow-keys", "optional": True}}]

    targets = [flow.FlowTarget("alert", "failure", "alert-inbox", "api-key"),
               flow.FlowTarget("load", "success", "load-inbox", "api-key")]
    configmap = flow.render_targets("fetch", "shop", targets)
    keys = flow.render_keys("fetch", "shop", {"load": "k1"})
    for child in (configmap, keys):
        kubernetes_validate.validate(child, "1.37.0", strict=True)
    assert json.loads(configmap["data"]["targets.json"])[1] == {
        "name": "load", "on": "success", "url": "http://load.shop.svc/inbox",
        "key_path": "/etc/osc/flow/load"}
    assert keys["metadata"]["name"] == "fetch-flow-keys"
    assert keys["data"] == {"load": base64.b64encode(b"k1").decode()}
