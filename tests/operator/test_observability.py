"""Observability of the operator, end to end against the emulator: Prometheus metrics scraped
over HTTP, JSON log lines bound to the OpenFnJob, kstatus conditions that `kubectl wait` reads,
and Events for failures of children.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, create, events_for, get,
                                    mark_available, openfnjob, operator, ready,  # noqa: F401
                                    wait_for)
from tests.operator.test_operator import kubectl


def scrape(operator: dict) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # noqa: F811
    """Every sample of the operator's /metrics: (name, sorted labels) → value."""
    url = f"http://127.0.0.1:{operator['metrics_port']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_reconciliations_errors_and_jobs(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    before = wait_for(lambda: _try_scrape(operator), "the metrics endpoint")
    assert value(before, "osc_operator_openfnjobs", ready="True") == 0

    create(kube_emulator, JOBS, openfnjob("counted"))
    create(kube_emulator, JOBS, openfnjob("miscounted", trigger={"cron": {"schedule": "@never"}}))
    wait_for(lambda: ready(kube_emulator, "counted") and ready(kube_emulator, "miscounted"),
             "both jobs reconciled")
    mark_available(kube_emulator, "counted")
    wait_for(lambda: ready(kube_emulator, "counted")["status"] == "True", "counted Ready")

    after = wait_for(lambda: (s := scrape(operator)) and value(
        s, "osc_operator_openfnjobs", ready="True") == 1 and s, "the Ready gauge")
    success = "osc_operator_reconciliations_total"
    assert value(after, success, outcome="success") >= value(before, success,
                                                              outcome="success") + 1
    assert value(after, success, outcome="invalid_spec") == value(
        before, success, outcome="invalid_spec") + 1
    assert value(after, "osc_operator_errors_total", reason="InvalidSpec") == value(
        before, "osc_operator_errors_total", reason="InvalidSpec") + 1
    assert value(after, "osc_operator_openfnjobs", ready="False") == 1  # miscounted
    histogram = "osc_operator_reconcile_duration_seconds_count"
    reconciled = sum(v for (name, _), v in after.items() if name == f"{success}")
    assert value(after, histogram) == reconciled >= 2
    assert value(after, "osc_operator_reconcile_duration_seconds_sum") > 0

    status, _ = kube_emulator.request("DELETE", f"{JOBS}/counted")
    assert status == 200
    wait_for(lambda: value(scrape(operator), "osc_operator_openfnjobs", ready="True") == 0,
             "the gauge to forget a deleted job")


def _try_scrape(operator: dict) -> dict | None:  # noqa: F811
    try:
        return scrape(operator)
    except OSError:
        return None


def test_log_lines_about_a_job_carry_its_namespace_and_name(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("logged"))
    wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/logged"), "logged's Deployment")

    def lines_about_logged() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in operator["log"].read_text().splitlines()
                 if line.strip()]
        return [line for line in lines if "Deployment logged created" in line["message"]]
    line = wait_for(lines_about_logged, "a log line about logged's Deployment")[0]
    assert line["object"]["namespace"] == "default" and line["object"]["name"] == "logged"
    assert line["object"]["kind"] == "OpenFnJob" and line["severity"] == "info"


@pytest.mark.skipif(kubectl() is None, reason="kubectl is not installed (make test-tools)")
def test_kubectl_wait_for_ready(kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa
    create(kube_emulator, JOBS, openfnjob("awaited"))
    wait_for(lambda: ready(kube_emulator, "awaited"), "awaited's first status")
    conditions = get(kube_emulator, f"{JOBS}/awaited")["status"]["conditions"]
    # Durable=False: the emulator has no default StorageClass, so the store is an emptyDir.
    assert [(c["type"], c["status"]) for c in conditions] == [
        ("Ready", "False"), ("Reconciling", "True"), ("Durable", "False")]
    waiting = subprocess.Popen(
        [kubectl(), "wait", "--for=condition=Ready", "ofj/awaited", "--timeout=60s"],
        env=kube_emulator.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(2)  # not Ready yet: kubectl keeps waiting
        mark_available(kube_emulator, "awaited")
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert "condition met" in out
    conditions = get(kube_emulator, f"{JOBS}/awaited")["status"]["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [("Ready", "True"),
                                                             ("Durable", "False")]


def test_a_child_that_cannot_be_written_is_a_warning_event(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    # A Service of the same name made by someone else: the operator must not take it over.
    create(kube_emulator, f"{CORE}/services", {"apiVersion": "v1", "kind": "Service",
                                               "metadata": {"name": "squatted"},
                                               "spec": {"ports": [{"port": 80}]}})
    create(kube_emulator, JOBS, openfnjob("squatted"))
    condition = wait_for(lambda: (c := ready(kube_emulator, "squatted")) and c["reason"]
                         == "ChildFailed" and c, "squatted's ChildFailed condition")
    assert "Service squatted already exists and is not managed by OpenFnJob squatted" in \
        condition["message"]
    events = wait_for(lambda: [e for e in events_for(kube_emulator, "squatted")
                               if e["reason"] == "ChildFailed"], "a ChildFailed Event")
    assert events[0]["type"] == "Warning"
    created = [e["message"] for e in events_for(kube_emulator, "squatted")
               if e["reason"] == "Created"]
    assert "ConfigMap squatted-job created" in created  # what succeeded is reported too
    assert "ownerReferences" not in get(kube_emulator, f"{CORE}/services/squatted")["metadata"]
    assert get(kube_emulator, f"{DEPLOYMENTS}/squatted") is None
