"""A job that does not compile: the runtime container exits with its compiler's message as the
termination message, and the operator reports `Ready=False, reason JobInvalid` with it — kopf
against the Kubernetes emulator.

The emulator runs no pods: a test writes the pod status the kubelet would write (the runtime's
side, the message file and exit code 3, is tested with the real runtime in
tests/runtime/test_job_errors.py).
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from osc_operator import job_check, render
from osc_operator.api import parse_spec
from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (  # noqa: F401 (fixture)
    CORE, DEPLOYMENTS, JOBS, NS, create, events_for, get, merge_patch, openfnjob, operator,
    ready, wait_for,
)

PODS = f"{CORE}/pods"
BROKEN = "fn(state => state.data\n"
COMPILER_SAYS = "SyntaxError: Unexpected token (2:0)"


def crashing_status(message: str, exit_code: int = 3) -> dict[str, Any]:
    """What the kubelet writes for a runtime container in CrashLoopBackOff."""
    return {"phase": "Running", "containerStatuses": [{
        "name": "runtime", "ready": False, "restartCount": 3, "image": "osc-runtime:test",
        "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": exit_code, "reason": "Error",
                                     "message": message}}}]}


def test_the_runtime_container_exits_on_an_invalid_job_and_keeps_the_message() -> None:
    spec = parse_spec({"job": BROKEN, "adaptor": "@openfn/language-common",
                       "trigger": {"webhook": {}}})
    deployment = render.render_deployment("demo", NS, spec, image="osc-runtime:test",
                                          checksums=render.Checksums(job="x"))
    kubernetes_validate.validate(deployment, "1.37.0", strict=True)
    [runtime] = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "OSC_ON_INVALID_JOB", "value": "exit"} in runtime["env"]
    assert runtime["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_the_message_is_read_from_the_pod_status() -> None:
    pod = {"metadata": {"annotations": {job_check.JOB_CHECKSUM: "abc"}},
           "status": crashing_status(f"job invalid: {COMPILER_SAYS}")}
    assert job_check.job_invalid(pod) == COMPILER_SAYS
    assert job_check.job_invalid(pod, "abc") == COMPILER_SAYS
    assert job_check.job_invalid(pod, "another job") is None  # a pod of an older spec
    assert job_check.job_invalid({"status": crashing_status("OOM", 137)}) is None  # not the job


def test_an_invalid_job_is_not_ready_with_the_compilers_message(kube_emulator,  # noqa: F811
                                                                operator):  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("broken", job=BROKEN))
    wait_for(lambda: (ready(kube_emulator, "broken") or {}).get("reason") == "Progressing",
             "broken Progressing", 60)
    template = get(kube_emulator, f"{DEPLOYMENTS}/broken")["spec"]["template"]
    create(kube_emulator, PODS, {"metadata": {"name": "broken-5c8d-xyz12", **template["metadata"]},
                                 "spec": template["spec"]})
    merge_patch(kube_emulator, f"{PODS}/broken-5c8d-xyz12/status",
                {"status": crashing_status(f"job invalid: {COMPILER_SAYS}")})
    condition = wait_for(lambda: (c := ready(kube_emulator, "broken")) and
                         c["reason"] == "JobInvalid" and c, "JobInvalid")
    assert (condition["status"], condition["message"]) == ("False", COMPILER_SAYS)
    warnings = [event for event in events_for(kube_emulator, "broken")
                if event["type"] == "Warning" and event["reason"] == "JobInvalid"]
    assert warnings and warnings[0]["message"] == COMPILER_SAYS
    # A reconcile (a spec change that keeps the job) still finds it in the pod's status.
    merge_patch(kube_emulator, f"{JOBS}/broken", {"spec": {"concurrency": 3}})
    wait_for(lambda: get(kube_emulator, f"{JOBS}/broken")["status"]["observedGeneration"] == 2,
             "the spec change reconciled")
    assert ready(kube_emulator, "broken")["reason"] == "JobInvalid"
