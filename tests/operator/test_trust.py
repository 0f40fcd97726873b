"""A job cannot weaken itself or take over what it did not make: `python -m osc_operator`
against the emulator.

- `spec.env` that sets a variable the operator sets or that changes the runtime's security
  (OSC_AUTH=none, OSC_API_KEYS_PATH, …) is refused: Ready=False InvalidSpec naming it, and no
  Deployment. (The emulator runs no admission, so the CRD's own rule is tested in test_crd.py.)
- No authentication at all only by name: `trigger.webhook.allowUnauthenticated: true`.
- A Secret `<name>-inbox` someone else made is never adopted as the job's inbox key.
"""

from __future__ import annotations

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, create, events_for, get,
                                    merge_patch, openfnjob, operator, ready,  # noqa: F401
                                    wait_for)


def env_of(deployment: dict) -> dict[str, str | None]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {var["name"]: var.get("value") for var in container["env"]}


def reason(kube: RunningEmulator, name: str, wanted: str) -> dict | None:
    condition = ready(kube, name)
    return condition if condition and condition["reason"] == wanted else None


def test_an_env_entry_that_turns_authentication_off_is_refused(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("sneaky", env=[
        {"name": "HTTP_PROXY", "value": "http://proxy:3128"}, {"name": "OSC_AUTH", "value": "none"}]))
    condition = wait_for(lambda: reason(kube_emulator, "sneaky", "InvalidSpec"),
                         "sneaky to be refused")
    assert condition["status"] == "False"
    assert condition["message"] == (
        "spec.env.1.name: OSC_AUTH may not be set here: it is set by the osc operator or "
        "changes the runtime's security (use spec.trigger.webhook.allowUnauthenticated)")
    assert get(kube_emulator, f"{DEPLOYMENTS}/sneaky") is None
    assert any(e["reason"] == "InvalidSpec" and e["type"] == "Warning"
               for e in events_for(kube_emulator, "sneaky"))

    merge_patch(kube_emulator, f"{JOBS}/sneaky", {"spec": {"env": [
        {"name": "OSC_API_KEYS_PATH", "value": "/etc/passwd"}]}})
    condition = wait_for(lambda: (c := reason(kube_emulator, "sneaky", "InvalidSpec"))
                         and "OSC_API_KEYS_PATH" in c["message"] and c, "the new refusal")
    assert "use spec.trigger.webhook.authSecretRef" in condition["message"]

    merge_patch(kube_emulator, f"{JOBS}/sneaky", {"spec": {"env": [
        {"name": "OSC_LOG_JOB_OUTPUT", "value": "true"}]}})  # not reserved: accepted
    deployment = wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/sneaky"), "a Deployment")
    env = env_of(deployment)
    assert env["OSC_LOG_JOB_OUTPUT"] == "true" and "OSC_AUTH" not in env


def test_no_authentication_only_when_asked_for_by_name(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("public", trigger={
        "webhook": {"allowUnauthenticated": True}}))
    deployment = wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/public"), "a Deployment")
    env = env_of(deployment)
    assert env["OSC_AUTH"] == "none" and "OSC_API_KEYS_PATH" not in env
    pod = deployment["spec"]["template"]["spec"]
    assert "inbox" not in {volume["name"] for volume in pod["volumes"]}
    assert get(kube_emulator, f"{CORE}/secrets/public-inbox") is None  # no key is made
    status = wait_for(lambda: (get(kube_emulator, f"{JOBS}/public") or {}).get("status", {}).get(
        "url") and get(kube_emulator, f"{JOBS}/public")["status"], "public's status")
    assert status["url"] == "http://public.default.svc/inbox"
    assert status.get("inboxSecret") is None  # no key to fetch


def test_a_pre_seeded_inbox_secret_is_never_adopted(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, f"{CORE}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "victim-inbox"},
        "stringData": {"api-key": "a-key-of-someone-elses-choosing"}})
    create(kube_emulator, JOBS, openfnjob("victim"))
    condition = wait_for(lambda: reason(kube_emulator, "victim", "ChildFailed"),
                         "victim's ChildFailed condition")
    assert condition["message"] == (
        "Secret victim-inbox: HTTP 409: Secret victim-inbox already exists and is not managed "
        "by OpenFnJob victim: rename or delete it")
    assert get(kube_emulator, f"{DEPLOYMENTS}/victim") is None  # nothing serves that key
    assert "ownerReferences" not in get(kube_emulator, f"{CORE}/secrets/victim-inbox")["metadata"]
    assert any(e["reason"] == "ChildFailed" and e["type"] == "Warning"
               for e in events_for(kube_emulator, "victim"))
