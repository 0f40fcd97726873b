"""spec.trigger.webhook.auth end to end (kopf against the emulator): a missing Basic or
signing Secret is reported and waited for, the Secrets are mounted read-only files, a change to
one rolls the pods, and the user's own API key Secret under auth.apiKey is the inbox key."""

from __future__ import annotations

from typing import Any

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, create, get, merge_patch,  # noqa: F401
                                    openfnjob, operator, ready, template_annotations, wait_for)

USERS = "kobo-rest:s3cret-kobo-pass\ncommcare:an0ther-pass\n"


def secret(name: str, key: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {key: value}}


def test_webhook_auth_secrets_are_waited_for_mounted_and_roll_the_pods(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, f"{CORE}/secrets", secret("intake-github", "secret", "whsec_1"))
    create(kube_emulator, JOBS, openfnjob("intake", trigger={"webhook": {
        "auth": {"apiKey": {"schemes": ["Bearer", "ApiToken"]},
                 "basic": {"secretRef": {"name": "intake-senders", "key": "users"}},
                 "signature": {"preset": "github",
                               "secretRef": {"name": "intake-github", "key": "secret"}}},
        "idempotencyFrom": "header:X-GitHub-Delivery"}}))
    condition = wait_for(lambda: ready(kube_emulator, "intake"), "intake's Ready condition")
    assert (condition["status"], condition["reason"]) == ("False", "CredentialNotFound")
    assert "intake-senders" in condition["message"] and "auth.basic" in condition["message"]
    assert get(kube_emulator, f"{DEPLOYMENTS}/intake") is None

    create(kube_emulator, f"{CORE}/secrets", secret("intake-senders", "users", USERS))
    deployment = wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/intake"), "the Deployment")
    pod = deployment["spec"]["template"]["spec"]
    env = {var["name"]: var.get("value") for var in pod["containers"][0]["env"]}
    assert env["OSC_BASIC_AUTH_PATH"] == "/etc/osc/basic-auth/users"
    assert env["OSC_SIGNATURE"] == "github" and env["OSC_API_KEY_SCHEMES"] == "Bearer,ApiToken"
    assert "s3cret-kobo-pass" not in str(deployment) and "whsec_1" not in str(deployment)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["basic-auth"]["secret"]["secretName"] == "intake-senders"
    assert volumes["signature"]["secret"]["defaultMode"] == 0o400

    for name, key, annotation in (("intake-senders", "users", "basic-auth"),
                                  ("intake-github", "secret", "signature")):
        path = f"osc.openfn.org/{annotation}-checksum"
        before = template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/intake"))[path]
        merge_patch(kube_emulator, f"{CORE}/secrets/{name}", {"stringData": {key: "rotated\n"}})
        wait_for(lambda: template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/intake"))[path]
                 != before, f"a new {annotation} checksum")


def test_an_own_api_key_under_auth_is_the_inbox_key(kube_emulator: RunningEmulator,  # noqa: F811
                                                    operator: dict) -> None:
    create(kube_emulator, f"{CORE}/secrets", secret("dhis2-key", "token", "a-long-dhis2-key"))
    create(kube_emulator, JOBS, openfnjob("dhis2", trigger={"webhook": {"auth": {"apiKey": {
        "secretRef": {"name": "dhis2-key", "key": "token"}, "schemes": ["ApiToken"]}}}}))
    deployment = wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/dhis2"), "the Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["inbox"]["secret"]["secretName"] == "dhis2-key"
    assert get(kube_emulator, f"{CORE}/secrets/dhis2-inbox") is None
    status = wait_for(lambda: get(kube_emulator, f"{JOBS}/dhis2")["status"].get("inboxSecret"),
                      "the inbox Secret in the status")
    assert status == "dhis2-key"
    before = template_annotations(deployment)["osc.openfn.org/api-key-checksum"]
    merge_patch(kube_emulator, f"{CORE}/secrets/dhis2-key", {"stringData": {"token": "new-key"}})
    wait_for(lambda: template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/dhis2"))[
        "osc.openfn.org/api-key-checksum"] != before, "a new api-key checksum")
