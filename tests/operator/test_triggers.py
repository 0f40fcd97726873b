"""Triggers, operator side, end to end: `python -m osc_operator` against the emulator.

Cron: the CronJob follows the spec (created, updated, removed), invalid schedules and time
zones are refused. Filter: OSC_FILTER follows `webhook.filter`. Flow: the upstream job's
ConfigMap `<name>-flow` and Secret `<name>-flow-keys` follow the downstream jobs as they
appear, change and go away, while the upstream's Deployment is never touched; a cycle is
refused; only a change of the flow itself makes the operator touch the upstream again.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import kubernetes_validate

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, NS, create, events_for, get,
                                    mark_available, merge_patch, openfnjob,  # noqa: F401
                                    operator, ready, template_annotations, wait_for)

CRONJOBS = f"/apis/batch/v1/namespaces/{NS}/cronjobs"


def env_of(kube: RunningEmulator, name: str) -> dict[str, str]:
    deployment = get(kube, f"{DEPLOYMENTS}/{name}") or {"spec": {"template": {"spec": {
        "containers": [{"env": []}]}}}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {var["name"]: var.get("value") for var in container["env"]}


def flow_targets(kube: RunningEmulator, name: str) -> list[dict[str, str]] | None:
    """The targets in `<name>-flow`; None while the job never had a downstream."""
    configmap = get(kube, f"{CORE}/configmaps/{name}-flow")
    return None if configmap is None else json.loads(configmap["data"]["targets.json"])


def flow_keys(kube: RunningEmulator, name: str) -> dict[str, str]:
    secret = get(kube, f"{CORE}/secrets/{name}-flow-keys") or {}
    return {key: base64.b64decode(value).decode()
            for key, value in (secret.get("data") or {}).items()}


def reason_of(kube: RunningEmulator, name: str) -> str | None:
    condition = ready(kube, name)
    return condition and condition["reason"]


def delete(kube: RunningEmulator, path: str) -> None:
    status, body = kube.request("DELETE", path)
    assert status == 200, body


def test_cron_trigger_renders_updates_and_removes_its_cronjob(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("ticker", trigger={"cron": {
        "schedule": "*/5 * * * *", "timeZone": "Europe/Berlin", "concurrencyPolicy": "Replace",
        "startingDeadlineSeconds": 120}}))
    cronjob = wait_for(lambda: get(kube_emulator, f"{CRONJOBS}/ticker"), "ticker's CronJob")
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"],
            spec["startingDeadlineSeconds"]) == ("*/5 * * * *", "Europe/Berlin", "Replace", 120)
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "osc_runtime", "trigger"]
    env = {var["name"]: var["value"] for var in container["env"]}
    assert env["OSC_TRIGGER_URL"] == "http://ticker.default.svc/inbox"
    assert env["OSC_TRIGGER_KEY_PATH"] == "/etc/osc/inbox/api-key"
    inbox = next(volume for volume in pod["volumes"] if volume["name"] == "inbox")
    assert inbox["secret"]["secretName"] == "ticker-inbox"
    assert {"name": "inbox", "mountPath": "/etc/osc/inbox", "readOnly": True} in container[
        "volumeMounts"]
    assert cronjob["metadata"]["ownerReferences"][0]["name"] == "ticker"
    kubernetes_validate.validate(cronjob, "1.37.0", strict=True)
    assert env_of(kube_emulator, "ticker")["OSC_TRIGGER"] == "cron"

    merge_patch(kube_emulator, f"{JOBS}/ticker", {"spec": {"trigger": {"cron": {
        "schedule": "@hourly", "timeZone": None}}}})
    updated = wait_for(lambda: (c := get(kube_emulator, f"{CRONJOBS}/ticker"))["spec"][
        "schedule"] == "@hourly" and c, "the new schedule")
    assert "timeZone" not in updated["spec"]
    assert events_for(kube_emulator, "ticker") and any(
        event["message"] == "CronJob ticker updated" for event in events_for(kube_emulator,
                                                                             "ticker"))

    merge_patch(kube_emulator, f"{JOBS}/ticker", {"spec": {"trigger": {
        "cron": None, "webhook": {}}}})
    wait_for(lambda: get(kube_emulator, f"{CRONJOBS}/ticker") is None, "the CronJob to go")
    wait_for(lambda: env_of(kube_emulator, "ticker")["OSC_TRIGGER"] == "webhook",
             "the Deployment to say webhook")


def test_invalid_schedules_and_time_zones_are_refused(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    # The emulator runs no schema validation: these reach the operator as they would a
    # cluster whose CRD is older than the operator.
    create(kube_emulator, JOBS, openfnjob("bad-schedule", trigger={"cron": {
        "schedule": "61 * * * *"}}))
    create(kube_emulator, JOBS, openfnjob("bad-zone", trigger={"cron": {
        "schedule": "@daily", "timeZone": "Mars/Olympus_Mons"}}))
    for name, message in (("bad-schedule", "'61 * * * *' is not a cron schedule"),
                          ("bad-zone", "'Mars/Olympus_Mons' is not an IANA time zone")):
        condition = wait_for(lambda: ready(kube_emulator, name), f"{name}'s Ready condition")
        assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
        assert message in condition["message"]
        conditions = get(kube_emulator, f"{JOBS}/{name}")["status"]["conditions"]
        assert {"type": "Stalled", "status": "True", "reason": "InvalidSpec"}.items() <= next(
            c for c in conditions if c["type"] == "Stalled").items()
        assert get(kube_emulator, f"{CRONJOBS}/{name}") is None
        assert get(kube_emulator, f"{DEPLOYMENTS}/{name}") is None
    merge_patch(kube_emulator, f"{JOBS}/bad-zone", {"spec": {"trigger": {"cron": {
        "timeZone": "America/Argentina/Buenos_Aires"}}}})
    cronjob = wait_for(lambda: get(kube_emulator, f"{CRONJOBS}/bad-zone"), "a fixed job's CronJob")
    assert cronjob["spec"]["timeZone"] == "America/Argentina/Buenos_Aires"


def test_webhook_filter_becomes_the_runtime_filter(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    wanted = {"data.type": "order", "$.total": 3, "items[0].ok": True, "meta": {"v": [1]}}
    create(kube_emulator, JOBS, openfnjob("picky", trigger={"webhook": {"filter": wanted}}))
    env = wait_for(lambda: env_of(kube_emulator, "picky").get("OSC_FILTER") and
                   env_of(kube_emulator, "picky"), "OSC_FILTER")
    assert json.loads(env["OSC_FILTER"]) == wanted
    status, body = kube_emulator.request("PATCH", f"{JOBS}/picky", [
        {"op": "replace", "path": "/spec/trigger/webhook/filter",
         "value": {"data.type": "refund"}}], "application/json-patch+json")
    assert status == 200, body
    wait_for(lambda: json.loads(env_of(kube_emulator, "picky").get("OSC_FILTER") or "{}")
             == {"data.type": "refund"}, "the new filter")
    merge_patch(kube_emulator, f"{JOBS}/picky", {"spec": {"trigger": {"webhook": {
        "filter": None}}}})
    wait_for(lambda: "OSC_FILTER" not in env_of(kube_emulator, "picky"), "no filter")


def flow_job(name: str, after: str, on: str = "success") -> dict[str, Any]:
    return openfnjob(name, trigger={"flow": {"after": after, "on": on}})


def target(name: str, on: str) -> dict[str, str]:
    return {"name": name, "on": on, "url": f"http://{name}.default.svc/inbox",
            "key_path": f"/etc/osc/flow/{name}"}


def test_flow_wiring_follows_the_downstream_jobs(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("fetch"))
    wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/fetch"), "fetch's Deployment")
    assert flow_targets(kube_emulator, "fetch") is None
    wait_for(lambda: (j := get(kube_emulator, f"{JOBS}/fetch"))["status"].get(
        "observedGeneration") == j["metadata"]["generation"], "fetch reconciled")
    untouched = get(kube_emulator, f"{DEPLOYMENTS}/fetch")["metadata"]["resourceVersion"]

    create(kube_emulator, JOBS, flow_job("load", "fetch"))
    wait_for(lambda: flow_targets(kube_emulator, "fetch") == [target("load", "success")],
             "fetch to be wired to load")
    load_key = wait_for(lambda: (get(kube_emulator, f"{CORE}/secrets/load-inbox") or {}).get(
        "data", {}).get("api-key"), "load's inbox key")
    wait_for(lambda: flow_keys(kube_emulator, "fetch") == {
        "load": base64.b64decode(load_key).decode()}, "load's key copied for fetch")
    owners = get(kube_emulator, f"{CORE}/configmaps/fetch-flow")["metadata"]["ownerReferences"]
    assert [(ref["kind"], ref["name"]) for ref in owners] == [("OpenFnJob", "fetch")]
    wait_for(lambda: get(kube_emulator, f"{JOBS}/fetch")["status"].get("flowTargets")
             == ["load"], "fetch's status to list load")
    wait_for(lambda: env_of(kube_emulator, "load").get("OSC_TRIGGER") == "flow",
             "load's own Deployment")

    create(kube_emulator, JOBS, flow_job("notify", "fetch", "failure"))
    wait_for(lambda: flow_targets(kube_emulator, "fetch") == [
        target("load", "success"), target("notify", "failure")], "a second target")
    merge_patch(kube_emulator, f"{JOBS}/load", {"spec": {"trigger": {"flow": {"on": "failure"}}}})
    wait_for(lambda: flow_targets(kube_emulator, "fetch") == [
        target("load", "failure"), target("notify", "failure")], "load's new outcome")

    merge_patch(kube_emulator, f"{JOBS}/load", {"spec": {"trigger": {"flow": {"after": "nobody"}}}})
    wait_for(lambda: flow_targets(kube_emulator, "fetch") == [target("notify", "failure")],
             "load to leave fetch")
    wait_for(lambda: set(flow_keys(kube_emulator, "fetch")) == {"notify"}, "load's key to go")
    condition = wait_for(lambda: (c := ready(kube_emulator, "load")) and "nobody" in c[
        "message"] and c, "load to report its missing upstream")
    assert "upstream OpenFnJob 'nobody' not found" in condition["message"]
    assert condition["reason"] == "Progressing"  # a service of its own all the same
    wait_for(lambda: any(e["reason"] == "UpstreamNotFound" and e["type"] == "Warning"
                         for e in events_for(kube_emulator, "load")), "an UpstreamNotFound Event")

    delete(kube_emulator, f"{JOBS}/notify")
    wait_for(lambda: flow_targets(kube_emulator, "fetch") == [], "the last target to go")
    wait_for(lambda: get(kube_emulator, f"{JOBS}/fetch")["status"].get("flowTargets") == [],
             "fetch's status to list no target")
    assert flow_keys(kube_emulator, "fetch") == {}
    # Downstream jobs came, changed and went: fetch's Deployment (so its pods) never changed.
    assert get(kube_emulator, f"{DEPLOYMENTS}/fetch")["metadata"]["resourceVersion"] == untouched


def test_flow_cycles_are_refused_and_the_rest_keeps_working(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, flow_job("selfish", "selfish"))
    wait_for(lambda: reason_of(kube_emulator, "selfish") == "InvalidSpec", "self-flow refused")
    assert "selfish runs after selfish" in ready(kube_emulator, "selfish")["message"]

    create(kube_emulator, JOBS, flow_job("ping", "pong"))
    create(kube_emulator, JOBS, flow_job("tail", "ping"))
    wait_for(lambda: reason_of(kube_emulator, "ping") == "Progressing", "ping to run")
    wait_for(lambda: flow_targets(kube_emulator, "ping") == [target("tail", "success")],
             "ping to be wired to tail")
    create(kube_emulator, JOBS, flow_job("pong", "ping"))
    for name in ("ping", "pong"):
        wait_for(lambda: reason_of(kube_emulator, name) == "InvalidSpec", f"{name} refused")
        assert "flow cycle" in ready(kube_emulator, name)["message"]
    assert get(kube_emulator, f"{DEPLOYMENTS}/pong") is None
    wait_for(lambda: reason_of(kube_emulator, "tail") == "Progressing",  # off the cycle
             "tail to be unaffected")
    assert any(e["reason"] == "InvalidSpec" and e["type"] == "Warning"
               for e in events_for(kube_emulator, "ping"))

    merge_patch(kube_emulator, f"{JOBS}/pong", {"spec": {"trigger": {
        "flow": None, "webhook": {}}}})  # breaks the cycle
    for name in ("ping", "pong"):
        wait_for(lambda: reason_of(kube_emulator, name) == "Progressing", f"{name} to recover")
    wait_for(lambda: flow_targets(kube_emulator, "pong") == [target("ping", "success")],
             "pong to be wired to ping")


def requests_about(kube: RunningEmulator, name: str, since: int = 0) -> list[str]:
    """The API requests (from position `since` of the emulator's log) for `name`'s objects."""
    def read(emulator: Any) -> list[str]:
        return [f"{request.method} {request.url.path}" for request in list(emulator)[since:]
                if any(part == name or part.startswith(f"{name}-")
                       for part in request.url.path.split("/"))]
    return kube.call(read)


def quiet_log_length(kube: RunningEmulator, quiet_s: float = 1.5) -> int:
    """The length of the emulator's request log once no request came for `quiet_s`."""
    def length() -> int:
        return kube.call(lambda emulator: len(list(emulator)))
    last = [length(), time.monotonic()]

    def settled() -> bool:
        now = length()
        if now != last[0]:
            last[:] = [now, time.monotonic()]
        return time.monotonic() - last[1] >= quiet_s
    wait_for(settled, "the operator to be idle")
    return last[0]


def test_only_flow_changes_of_a_downstream_touch_its_upstream(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("origin"))
    create(kube_emulator, JOBS, flow_job("sink", "origin"))
    wait_for(lambda: flow_targets(kube_emulator, "origin") == [target("sink", "success")],
             "origin to be wired to sink")
    wait_for(lambda: reason_of(kube_emulator, "sink") == "Progressing", "sink reported")
    mark = quiet_log_length(kube_emulator)  # the reconciliations of their creation are over

    mark_available(kube_emulator, "sink")  # the operator rewrites sink's status only
    wait_for(lambda: reason_of(kube_emulator, "sink") == "Available", "sink available")
    # A spec change of sink that is no part of the flow; kopf handles sink's events in order,
    # so once this one is reconciled, the status change before it was handled too.
    merge_patch(kube_emulator, f"{JOBS}/sink", {"spec": {"job": "fn(state => 1);"}})
    wait_for(lambda: (j := get(kube_emulator, f"{JOBS}/sink"))["status"].get(
        "observedGeneration") == j["metadata"]["generation"], "sink's new spec reconciled")
    assert get(kube_emulator, f"{CORE}/configmaps/sink-job")["data"]["job.js"] == \
        "fn(state => 1);"
    # sink reads origin itself to tell whether its upstream exists; origin is not reconciled
    assert [request for request in requests_about(kube_emulator, "origin", mark)
            if request != f"method.GET {JOBS}/origin"] == []

    merge_patch(kube_emulator, f"{JOBS}/sink", {"spec": {"trigger": {"flow": {"on": "failure"}}}})
    wait_for(lambda: flow_targets(kube_emulator, "origin") == [target("sink", "failure")],
             "origin rewired to sink's new outcome")
    assert requests_about(kube_emulator, "origin", mark)  # the flow changed: origin follows
