"""README (operator): an invalid OpenFnJob is refused by the real API server's schema and CEL
rules (the same cases tests/operator/test_crd.py checks against the generated schema), and what
a schema cannot see is `Ready=False InvalidSpec` with `Stalled=True`, not retried."""

from __future__ import annotations

import copy
import re

import yaml

from osc_operator import api, api_autoscaling, api_workflow
from tests.cluster.jobs import openfnjob, wait_reason
from tests.operator.test_crd import INVALID
from tests.operator.test_workflow import INVALID as INVALID_WORKFLOWS
from tests.operator.test_workflow import with_edges

# messages of our own x-kubernetes-validations rules: the API server must quote them
CEL_MESSAGES = ("set exactly one of", "name a time zone, not Local",
                api.ONE_POD_WITH_STORAGE["message"], api.NO_SELF_FLOW["message"],
                *(rule["message"] for rule in (
                    api_workflow.UNIQUE_STEPS, api_workflow.EDGES_KNOWN, api_workflow.ONE_START,
                    api_workflow.WORKFLOW_ALONE, api_workflow.JS_SAFE, api_workflow.JS_HAS_EXPRESSION,
                    api_workflow.NOT_TO_START, api_workflow.NOT_START_NAME)),
                api_autoscaling.MIN_NOT_ABOVE_MAX["message"],
                api_autoscaling.AUTOSCALING_NEEDS_POSTGRES["message"],
                api_autoscaling.AUTOSCALING_OWNS_REPLICAS["message"])


def test_the_api_server_refuses_what_the_schema_and_cel_rules_refuse(osc) -> None:
    cases = {name: (copy.deepcopy(job), message) for name, (job, message) in INVALID.items()}
    cases.update({f"workflow: {name}": (copy.deepcopy(job), message)
                  for name, (job, message) in INVALID_WORKFLOWS.items()})
    cases["flows into itself"] = (openfnjob("x", trigger={"flow": {"after": "x", "on": "success"}}),
                                  api.NO_SELF_FLOW["message"])
    names = {}
    for index, (case, (job, _)) in enumerate(cases.items()):
        names[case] = f"invalid-{index}"
        job["metadata"]["name"] = names[case]
        if case == "flows into itself":
            job["spec"]["trigger"]["flow"]["after"] = names[case]
    text = "\n---\n".join(yaml.safe_dump(job) for job, _ in cases.values())
    result = osc.cluster.kubectl("apply", "--dry-run=server", "-n", osc.namespace, "-f", "-",
                                 input=text, check=False)
    assert result.returncode != 0
    refused = {}  # job name → the API server's answer (one block per refused object)
    for block in re.split(r"\n(?=Error from server)", result.stderr):
        found = re.search(r'"(invalid-\d+)" is invalid', block)
        if found:
            refused[found.group(1)] = block
    for case, (_, message) in cases.items():
        line = refused.get(names[case])
        assert line, f"{case}: accepted by the API server\n{result.stderr}"
        cel = next((m for m in CEL_MESSAGES if m in message or message in m), None)
        if cel:
            assert cel in line, f"{case}: {line}"
    assert "created" not in result.stdout  # nothing valid slipped in among them


def test_what_only_the_operator_can_check_is_invalid_spec(osc) -> None:
    """The CRD's patterns let these through; the operator parses them and stops."""
    cluster, namespace = osc.cluster, osc.namespace
    long_name = "a" * 58  # a Service name, and `<name>-inbox`, would not fit
    cluster.apply(namespace,
                  openfnjob("bad-minute", trigger={"cron": {"schedule": "61 * * * *"}}),
                  openfnjob("bad-zone", trigger={"cron": {"schedule": "@daily",
                                                          "timeZone": "Mars/Base"}}),
                  openfnjob(long_name),
                  {**with_edges({"from": "alert", "to": "fetch"}), "metadata": {"name": "loopy"}})
    for name, words in (("bad-minute", "61 * * * *"), ("bad-zone", "Mars/Base"),
                        (long_name, "at most 57"), ("loopy", "edges form a cycle")):
        ready = wait_reason(cluster, namespace, name, "InvalidSpec")
        assert ready["status"] == "False" and words in ready["message"], ready
        assert cluster.child(namespace, "Deployment", name) is None
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Stalled", "--timeout=30s",
                    "openfnjob/bad-minute", "openfnjob/bad-zone")
