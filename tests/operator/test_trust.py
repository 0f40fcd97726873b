"""A job cannot weaken itself or take over what it did not make: `python -m osc_operator`
against the emulator.

- `spec.env` that sets a variable the operator sets or that changes the runtime's security
  (OSC_AUTH=none, OSC_API_KEYS_PATH, …) is refused: Ready=False InvalidSpec naming it, and no
  Deployment. (The emulator runs no admission, so the CRD's own rule is tested in test_crd.py.)
- No authentication at all only by name: `trigger.webhook.allowUnauthenticated: true`.
- A Secret `<name>-inbox` someone else made is never adopted as the job's inbox key.
- The store is durable by default where the cluster allows (a default StorageClass), and a
  job says so when it is not (Durable=False, a NotDurable Event).
- With OSC_OPERATOR_NETWORK_POLICY (the chart's `jobNetworkPolicy.enabled`) every job gets a
  NetworkPolicy admitting only its inbox port; several replicas get a PodDisruptionBudget.
"""

from __future__ import annotations

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, NS, create, events_for, get,
                                    merge_patch, openfnjob, operator, ready,  # noqa: F401
                                    wait_for)

OPERATOR_ENV = {"OSC_OPERATOR_NETWORK_POLICY": "true"}
POLICIES = f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"
BUDGETS = f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets"


def env_of(deployment: dict) -> dict[str, str | None]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {var["name"]: var.get("value") for var in container["env"]}


def reason(kube: RunningEmulator, name: str, wanted: str) -> dict | None:
    condition = ready(kube, name)
    return condition if condition and condition["reason"] == wanted else None


def test_an_env_entry_that_turns_authentication_off_is_refused(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("sneaky", env=[
        {"name": "HTTP_PROXY", "value": "http://proxy:3128"},
        {"name": "OSC_AUTH", "value": "none"}]))
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


STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"


def conditions_of(kube: RunningEmulator, name: str) -> dict[str, dict]:
    status = (get(kube, f"{JOBS}/{name}") or {}).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


def test_without_a_default_class_the_store_is_ephemeral_and_says_so(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("fragile"))
    durable = wait_for(lambda: conditions_of(kube_emulator, "fragile").get("Durable"),
                       "fragile's Durable condition")
    assert (durable["status"], durable["reason"]) == ("False", "NoDefaultStorageClass")
    warning = wait_for(lambda: [e for e in events_for(kube_emulator, "fragile")
                                if e["reason"] == "NotDurable"], "a NotDurable Event")
    assert warning[0]["type"] == "Warning"
    assert "queued runs and run history are lost whenever the pod is replaced" in \
        warning[0]["message"]
    assert get(kube_emulator, f"{CORE}/persistentvolumeclaims/fragile-data") is None


def test_with_a_default_class_a_job_without_storage_keeps_its_runs_on_a_claim(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, STORAGE_CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "example.com/x",
        "metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}})
    create(kube_emulator, JOBS, openfnjob("durable"))
    claim = wait_for(lambda: get(kube_emulator, f"{CORE}/persistentvolumeclaims/durable-data"),
                     "durable's claim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "storageClassName" not in claim["spec"]  # the cluster's default fills it in
    deployment = wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/durable"), "a Deployment")
    # Recreate: the old pod lets go of the store before the new one opens it, so a rollout
    # of a spec change hands every queued run over to the new pod.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    durable = wait_for(lambda: conditions_of(kube_emulator, "durable").get("Durable"),
                       "durable's Durable condition")
    assert (durable["status"], durable["reason"]) == ("True", "PersistentVolumeClaim")

    merge_patch(kube_emulator, f"{JOBS}/durable", {"spec": {"concurrency": 4}})
    wait_for(lambda: env_of(get(kube_emulator, f"{DEPLOYMENTS}/durable")).get(
        "OSC_CONCURRENCY") == "4", "the rollout of the spec change")
    volumes = get(kube_emulator, f"{DEPLOYMENTS}/durable")["spec"]["template"]["spec"]["volumes"]
    assert {v["name"]: v for v in volumes}["data"] == {
        "name": "data", "persistentVolumeClaim": {"claimName": "durable-data"}}


def test_every_job_gets_a_network_policy_admitting_only_its_inbox_port(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("fenced"))
    policy = wait_for(lambda: get(kube_emulator, f"{POLICIES}/fenced"), "fenced's NetworkPolicy")
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "openfnjob",
                                        "app.kubernetes.io/instance": "fenced"}},
        "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]}
    assert [ref["name"] for ref in policy["metadata"]["ownerReferences"]] == ["fenced"]


def test_several_replicas_get_a_disruption_budget_that_goes_with_them(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("wide", replicas=3))
    budget = wait_for(lambda: get(kube_emulator, f"{BUDGETS}/wide"), "wide's budget")
    assert budget["spec"]["maxUnavailable"] == 1
    durable = wait_for(lambda: conditions_of(kube_emulator, "wide").get("Durable"),
                       "wide's Durable condition")
    assert (durable["status"], durable["reason"]) == ("False", "SeveralReplicas")
    merge_patch(kube_emulator, f"{JOBS}/wide", {"spec": {"replicas": 1}})
    wait_for(lambda: get(kube_emulator, f"{BUDGETS}/wide") is None, "the budget to go")
    assert get(kube_emulator, f"{BUDGETS}/fenced") is None  # one pod: never blocks a drain
