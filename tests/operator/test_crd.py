"""The generated CRD: fresh, structural, and accepting exactly the OpenFnJobs it should.

Custom resources are validated with jsonschema against the CRD's openAPIV3Schema. jsonschema
does not run CEL, so the CRD's `x-kubernetes-validations` rules are evaluated here by `cel`,
which understands the one-of form `exactly_one_of` generates and the few other rules of api.py
written out below — any other rule fails the test instead of being skipped.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from osc_operator import api, api_autoscaling, api_webhook, api_workflow, crdgen

ROOT = Path(__file__).resolve().parents[2]
ONE_OF_RULE = re.compile(r"^\[(has\(self\.\w+\)(, )?)+\]\.exists_one\(x, x\)$")
VALID = {"apiVersion": "osc.openfn.org/v1alpha1", "kind": "OpenFnJob",
         "metadata": {"name": "demo"},
         "spec": {"job": "fn(s => s)", "adaptor": "@openfn/language-common",
                  "trigger": {"webhook": {}}}}


def schema() -> dict[str, Any]:
    crd = yaml.safe_load(crdgen.CRD_PATH.read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _no_self_flow(job: dict[str, Any]) -> bool:
    flow = job["spec"].get("trigger", {}).get("flow")
    return flow is None or flow.get("after") != job["metadata"]["name"]


def _one_pod_with_storage(spec: dict[str, Any]) -> bool:
    return ("storage" not in spec or spec["storage"].get("ephemeral") is True
            or "postgres" in spec["storage"] or "replicas" not in spec or spec["replicas"] <= 1)


def _postgres_alone(storage: dict[str, Any]) -> bool:
    return "postgres" not in storage or not ({"size", "storageClassName", "ephemeral"} & set(storage))


def _ephemeral_alone(storage: dict[str, Any]) -> bool:
    return not storage.get("ephemeral") or not ({"size", "storageClassName"} & set(storage))


def _env_allowed(var: dict[str, Any]) -> bool:
    name = var["name"]
    operator_sets = {"OSC_JOB", "OSC_JOB_NAME", "OSC_ADAPTOR", "OSC_TRIGGER", "OSC_CREDENTIAL",
                     "OSC_DATA_DIR", "OSC_HOST", "OSC_PORT", "OSC_RUN_TIMEOUT_SECONDS",
                     "OSC_CONCURRENCY", "OSC_FILTER", "OSC_ADAPTORS_DIR", "OSC_ADAPTOR_INSTALL",
                     "OSC_TRIGGER_URL", "OSC_ON_INVALID_JOB", "OSC_DATABASE_URL",
                     "OSC_DATABASE_URL_PATH"}
    security = ("OSC_AUTH", "OSC_API_KEY", "OSC_FLOW_TARGETS", "OSC_BASIC_AUTH", "OSC_SIGNATURE",
                "OSC_IDEMPOTENCY_FROM", "OSC_ACCEPT_")
    return (name not in operator_sets and not name.startswith(security)
            and not (name.startswith("OSC_") and name.endswith("_PATH")))


def _no_key_when_open(webhook: dict[str, Any]) -> bool:
    return not (webhook.get("allowUnauthenticated") and ({"authSecretRef", "auth"} & set(webhook)))


def _one_api_key_secret(webhook: dict[str, Any]) -> bool:
    own = ((webhook.get("auth") or {}).get("apiKey") or {}).get("secretRef")
    return "authSecretRef" not in webhook or own is None


def _edges_known(spec: dict[str, Any]) -> bool:
    names = {step["name"] for step in spec.get("steps") or []}
    return "edges" not in spec or ("steps" in spec and all(
        edge["from"] in names | {"trigger"} and edge["to"] in names for edge in spec["edges"]))


def _one_start(spec: dict[str, Any]) -> bool:
    return "steps" not in spec or ("edges" in spec and sum(
        edge["from"] == "trigger" for edge in spec["edges"]) == 1)


def _unique_steps(spec: dict[str, Any]) -> bool:
    names = [step["name"] for step in spec.get("steps") or []]
    return len(names) == len(set(names))


def _workflow_alone(spec: dict[str, Any]) -> bool:
    if "steps" in spec:
        return "adaptor" not in spec and "credential" not in spec
    return "adaptor" in spec


def _js_safe(edge: dict[str, Any]) -> bool:
    return "expression" not in edge or not re.search(api_workflow.JS_FORBIDDEN_PATTERN,
                                                     edge["expression"])


KNOWN_RULES = {  # CEL rule → its Python equivalent
    api_workflow.UNIQUE_STEPS["rule"]: _unique_steps,
    api_workflow.EDGES_KNOWN["rule"]: _edges_known,
    api_workflow.ONE_START["rule"]: _one_start,
    api_workflow.WORKFLOW_ALONE["rule"]: _workflow_alone,
    api_workflow.NOT_START_NAME["rule"]: lambda step: step["name"] != "trigger",
    api_workflow.JS_HAS_EXPRESSION["rule"]: lambda edge: (edge.get("condition") == "js") == (
        "expression" in edge),
    api_workflow.JS_SAFE["rule"]: _js_safe,
    api_workflow.NOT_TO_START["rule"]: lambda edge: edge["to"] != "trigger" and (
        edge["from"] != edge["to"]),
    api.NOT_RESERVED_ENV["rule"]: _env_allowed,
    api.NO_KEY_WHEN_OPEN["rule"]: _no_key_when_open,
    api.EPHEMERAL_ALONE["rule"]: _ephemeral_alone,
    api.POSTGRES_ALONE["rule"]: _postgres_alone,
    "self != 'Local'": lambda value: value != "Local",
    api_webhook.SIGNATURE_PRESET_ALONE["rule"]: lambda value: "preset" not in value or not (
        {"algorithm", "encoding", "prefix"} & set(value)),
    api_webhook.ONE_API_KEY_SECRET["rule"]: _one_api_key_secret,
    api_webhook.BODY_WITH_CONTENT_TYPE["rule"]: lambda value: ("body" in value) == (
        "contentType" in value),
    api.NO_SELF_FLOW["rule"]: _no_self_flow,
    api.ONE_POD_WITH_STORAGE["rule"]: _one_pod_with_storage,
    api_autoscaling.MIN_NOT_ABOVE_MAX["rule"]: lambda value: (
        value.get("minReplicas", 1) <= value.get("maxReplicas", 100)),
    api_autoscaling.AUTOSCALING_NEEDS_POSTGRES["rule"]: lambda spec: (
        "autoscaling" not in spec or "postgres" in (spec.get("storage") or {})),
    api_autoscaling.AUTOSCALING_OWNS_REPLICAS["rule"]: lambda spec: (
        "autoscaling" not in spec or spec.get("replicas", 1) == 1),
}
POSTGRES = {"postgres": {"urlSecretRef": {"name": "osc-db-app", "key": "uri"}}}


def cel(rule: str, value: Any) -> bool:
    if rule in KNOWN_RULES:
        return KNOWN_RULES[rule](value)
    assert ONE_OF_RULE.match(rule), f"no Python equivalent for CEL rule {rule!r}"
    fields = re.findall(r"has\(self\.(\w+)\)", rule)
    return sum(field in value for field in fields) == 1


def rule_violations(node: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """The messages of every x-kubernetes-validations rule that `value` breaks."""
    found = [f"{where or '<root>'}: {rule['message']}"
             for rule in node.get("x-kubernetes-validations", [])
             if not cel(rule["rule"], value)]
    if isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            found += rule_violations(node["items"], item, f"{where}[{index}]")
    if not isinstance(value, dict):
        return found
    for name, child in node.get("properties", {}).items():
        if name in value:
            found += rule_violations(child, value[name], f"{where}.{name}")
    return found


def problems(obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema())
    return [error.message for error in validator.iter_errors(obj)] + \
        rule_violations(schema(), obj)


def test_generated_files_are_up_to_date() -> None:
    assert crdgen.verify() == 0, "run `make generate`"


def test_verify_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text("stale\n")
    monkeypatch.setattr(crdgen, "CRD_PATH", stale)
    outputs = crdgen.render_outputs()
    assert stale in outputs
    assert crdgen.verify() == 1


def test_chart_crd_is_the_same_crd_behind_install_and_keep_switches() -> None:
    chart = crdgen.CHART_CRD_PATH.read_text()
    assert "{{- if .Values.crds.install }}" in chart and chart.rstrip().endswith("{{- end }}")
    assert "{{- if .Values.crds.keep }}\n  annotations:\n    helm.sh/resource-policy: keep" in chart
    plain = re.sub(r"^ *\{\{-[^}]*\}\}\n", "", chart, flags=re.MULTILINE).replace(
        "  annotations:\n    helm.sh/resource-policy: keep\n", "")
    assert yaml.safe_load(plain) == yaml.safe_load(crdgen.CRD_PATH.read_text())


def assert_structural(node: dict[str, Any], where: str = "") -> None:
    """Kubernetes' structural-schema rules that a pydantic schema could break."""
    assert not {"$ref", "anyOf", "oneOf", "allOf", "$defs", "title"} & set(node), where
    exempt = node.get("x-kubernetes-int-or-string") or node.get(
        "x-kubernetes-preserve-unknown-fields")
    assert "type" in node or exempt, f"{where}: no type"
    assert not ("properties" in node and "additionalProperties" in node), where
    for name, child in node.get("properties", {}).items():
        assert_structural(child, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            assert_structural(node[key], f"{where}[{key}]")


def test_schema_is_structural_and_declares_status() -> None:
    root = schema()
    assert_structural(root)
    assert {"conditions", "observedGeneration", "url", "inboxSecret"} <= set(
        root["properties"]["status"]["properties"])
    version = yaml.safe_load(crdgen.CRD_PATH.read_text())["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [column["name"].upper() for column in version["additionalPrinterColumns"]]
    assert columns == ["READY", "REASON", "TRIGGER", "URL", "AGE"]


def test_every_field_is_documented() -> None:
    def walk(node: dict[str, Any], where: str) -> None:
        for name, child in node.get("properties", {}).items():
            assert child.get("description"), f"{where}.{name} has no description"
            walk(child, f"{where}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], where + "[]")
    walk(schema()["properties"]["spec"], "spec")


def example_jobs() -> list[dict[str, Any]]:
    docs = [doc for path in sorted((ROOT / "examples" / "k8s").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())]
    return [doc for doc in docs if doc and doc.get("kind") == "OpenFnJob"]


@pytest.mark.parametrize("job", example_jobs(), ids=lambda job: job["metadata"]["name"])
def test_examples_are_valid(job: dict[str, Any]) -> None:
    assert problems(job) == []


def with_spec(**changes: Any) -> dict[str, Any]:
    job = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            job["spec"].pop(key, None)
        else:
            job["spec"][key] = value
    return job


GOOD_REGISTRIES = ["https://npm.example.com/", "http://verdaccio.npm.svc:4873",
                   "https://artifactory.example.com/api/npm/npm-remote/", "http://[fd00::1]:4873/"]
BAD_REGISTRIES = ["ftp://npm.example.com/", "npm.example.com", "https://user:pass@npm.example.com/",
                  "https://npm.example.com/?token=x", "file:///etc/npmrc", "https://",
                  "https://npm example.com/"]

SECRET_REF = {"name": "senders", "key": "users"}
INVALID = {
    "job and jobFrom": (with_spec(jobFrom={"configMapKeyRef": {"name": "a", "key": "b"}}),
                        "set exactly one of: job, jobFrom, steps"),
    "neither job nor jobFrom": (with_spec(job=None), "set exactly one of: job, jobFrom, steps"),
    "two triggers": (with_spec(trigger={"webhook": {}, "cron": {"schedule": "* * * * *"}}),
                     "set exactly one of: webhook, cron, flow"),
    "no trigger kind": (with_spec(trigger={}), "set exactly one of: webhook, cron, flow"),
    "adaptor with a path": (with_spec(adaptor="../../evil"), "does not match"),
    "adaptor with a shell": (with_spec(adaptor="@openfn/language-common;rm"), "does not match"),
    "unknown concurrencyPolicy": (with_spec(trigger={"cron": {
        "schedule": "* * * * *", "concurrencyPolicy": "Sometimes"}}), "is not one of"),
    "flow on what": (with_spec(trigger={"flow": {"after": "a", "on": "maybe"}}), "is not one of"),
    "cron without schedule": (with_spec(trigger={"cron": {}}), "'schedule' is a required"),
    "cron with four fields": (with_spec(trigger={"cron": {"schedule": "* * * *"}}),
                              "does not match"),
    "cron with seconds": (with_spec(trigger={"cron": {"schedule": "0 * * * * *"}}),
                          "does not match"),
    "cron with words": (with_spec(trigger={"cron": {"schedule": "every day"}}), "does not match"),
    "cron @reboot": (with_spec(trigger={"cron": {"schedule": "@reboot"}}), "does not match"),
    "cron with a TZ prefix": (with_spec(trigger={"cron": {"schedule": "TZ=UTC 0 * * * *"}}),
                              "does not match"),
    "time zone with spaces": (with_spec(trigger={"cron": {
        "schedule": "@daily", "timeZone": "Europe/ Berlin"}}), "does not match"),
    "time zone Local": (with_spec(trigger={"cron": {"schedule": "@daily", "timeZone": "Local"}}),
                        "name a time zone, not Local"),
    "no adaptor": (with_spec(adaptor=None), "a single job needs spec.adaptor"),
    "zero concurrency": (with_spec(concurrency=0), "less than the minimum"),
    **{f"registry {url}": (with_spec(adaptorInstall={"registry": url}), "does not match")
       for url in BAD_REGISTRIES},
    "npmrcSecretRef without key": (with_spec(adaptorInstall={"npmrcSecretRef": {"name": "a"}}),
                                   "'key' is a required"),
    **{f"storage size {size!r}": (with_spec(storage={"size": size}), "does not match")
       for size in ("0", "0Gi", "-1Gi", "1GB", "1e9", "lots")},
    **{f"webhook {name}": (with_spec(trigger={"webhook": webhook}), message)
       for name, (webhook, message) in {
           "signature preset and header": ({"auth": {"signature": {
               "preset": "github", "header": "X-Sig", "secretRef": SECRET_REF}}},
               "set exactly one of: preset, header"),
           "signature without secret": ({"auth": {"signature": {"preset": "stripe"}}},
                                        "'secretRef' is a required"),
           "signature preset with an encoding": ({"auth": {"signature": {
               "preset": "shopify", "encoding": "hex", "secretRef": SECRET_REF}}},
               "a preset fixes the algorithm"),
           "unknown preset": ({"auth": {"signature": {"preset": "gitlab", "secretRef": SECRET_REF}}},
                              "is not one of"),
           "unknown algorithm": ({"auth": {"signature": {
               "header": "X-Sig", "algorithm": "md5", "secretRef": SECRET_REF}}}, "is not one of"),
           "basic without secret": ({"auth": {"basic": {}}}, "'secretRef' is a required"),
           "two API key Secrets": ({"authSecretRef": SECRET_REF,
                                    "auth": {"apiKey": {"secretRef": SECRET_REF}}},
                                   "set the API key Secret once"),
           "scheme with a space": ({"auth": {"apiKey": {"schemes": ["Api Token"]}}},
                                   "does not match"),
           "query param with a space": ({"auth": {"queryParam": {"name": "api token"}}},
                                        "does not match"),
           "idempotencyFrom of another kind": ({"idempotencyFrom": "body:$.id"}, "does not match"),
           "idempotencyFrom with an empty path": ({"idempotencyFrom": "json:$."}, "does not match"),
           "accept body without content type": ({"acceptReply": {"body": "<Ack/>"}},
                                                "set body and contentType together"),
           "accept status 302": ({"acceptReply": {"status": 302}}, "greater than the maximum"),
       }.items()},
    "ephemeral with a size": (with_spec(storage={"ephemeral": True, "size": "1Gi"}),
                              "ephemeral takes no size or storageClassName"),
    "ephemeral with a class": (with_spec(storage={"ephemeral": True, "storageClassName": "x"}),
                               "ephemeral takes no size or storageClassName"),
    "two pods with storage": (with_spec(storage={"size": "1Gi"}, replicas=2),
                              "replicas must be 0 or 1 with storage"),
    "postgres with a size": (with_spec(storage={"postgres": {"urlSecretRef": {
        "name": "db-app", "key": "uri"}}, "size": "1Gi"}), "postgres takes no size"),
    "postgres without its Secret": (with_spec(storage={"postgres": {}}), "urlSecretRef"),
    "autoscaling without postgres": (with_spec(autoscaling={"maxReplicas": 4}),
                                     "autoscaling needs storage.postgres"),
    "autoscaling on a claim": (with_spec(storage={"size": "1Gi"}, autoscaling={
        "maxReplicas": 4}), "autoscaling needs storage.postgres"),
    "autoscaling min above max": (with_spec(storage=POSTGRES, autoscaling={
        "minReplicas": 5, "maxReplicas": 4}), "minReplicas may not be above maxReplicas"),
    "autoscaling to no pod": (with_spec(storage=POSTGRES, autoscaling={
        "minReplicas": 0, "maxReplicas": 4}), "less than the minimum"),
    "autoscaling without a maximum": (with_spec(storage=POSTGRES, autoscaling={
        "minReplicas": 2}), "'maxReplicas' is a required"),
    "autoscaling beside replicas": (with_spec(storage=POSTGRES, replicas=3, autoscaling={
        "maxReplicas": 4}), "replicas is set by the autoscaler"),
    "autoscaling target 0": (with_spec(storage=POSTGRES, autoscaling={
        "maxReplicas": 4, "targetQueuedPerReplica": 0}), "less than the minimum"),
    **{f"env {name}": (with_spec(env=[{"name": "HTTP_PROXY", "value": "x"},
                                      {"name": name, "value": "none"}]),
                       "a variable the osc operator sets or that changes the runtime's security")
       for name in ("OSC_AUTH", "OSC_API_KEYS", "OSC_API_KEYS_PATH", "OSC_CREDENTIAL_PATH",
                    "OSC_NPMRC_PATH", "OSC_FLOW_TARGETS", "OSC_FLOW_TARGETS_PATH",
                    "OSC_DATA_DIR", "OSC_PORT", "OSC_HOST", "OSC_ADAPTOR_INSTALL", "OSC_JOB",
                    "OSC_API_KEY_HEADER", "OSC_SIGNATURE", "OSC_IDEMPOTENCY_FROM",
                    "OSC_ACCEPT_BODY", "OSC_DATABASE_URL", "OSC_DATABASE_URL_PATH")},
    "no authentication and a key": (with_spec(trigger={"webhook": {
        "allowUnauthenticated": True, "authSecretRef": {"name": "a", "key": "b"}}}),
        "allowUnauthenticated takes no authSecretRef"),
}


@pytest.mark.parametrize("name", INVALID)
def test_invalid_jobs_are_rejected(name: str) -> None:
    job, message = INVALID[name]
    found = problems(job)
    assert any(message in problem for problem in found), found


@pytest.mark.parametrize("spec", [
    {"trigger": {"cron": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC"}}},
    {"trigger": {"cron": {"schedule": "0 6-18/2 * JAN-MAR MON-FRI", "timeZone": "Etc/GMT+5"}}},
    {"trigger": {"cron": {"schedule": "15,45 0 1 * ?", "timeZone": "America/Argentina/Salta"}}},
    {"trigger": {"cron": {"schedule": "@daily"}}},
    {"trigger": {"flow": {"after": "upstream", "on": "success"}}},
    {"trigger": {"webhook": {"filter": {"$.type": "order", "$.total": 3}}}},
    {"trigger": {"webhook": {"auth": {
        "apiKey": {"schemes": ["Bearer", "ApiToken"], "header": "X-Key"},
        "queryParam": {"name": "api_token"}, "basic": {"secretRef": {"name": "u", "key": "k"}},
        "signature": {"header": "X-Signature", "algorithm": "sha512", "encoding": "base64",
                      "prefix": "v1=", "secretRef": {"name": "s", "key": "k"}}},
        "idempotencyFrom": "json:$.Envelope.Body.notifications.Notification.Id",
        "acceptReply": {"status": 200, "contentType": "text/xml", "body": "<Ack>true</Ack>"}}}},
    {"trigger": {"webhook": {"auth": {"signature": {"preset": "stripe", "secretRef": {
        "name": "s", "key": "k"}}}, "idempotencyFrom": "json:$.id"}}},
    {"trigger": {"webhook": {"authSecretRef": {"name": "a", "key": "k"}, "auth": {
        "apiKey": {"schemes": ["Token"]}}, "idempotencyFrom": "header:X-Shopify-Webhook-Id"}}},
    {"adaptor": "@openfn/language-http@^7.2.0"},
    {"resources": {"limits": {"cpu": 1, "memory": "256Mi"}}},
    {"storage": {"size": "1Gi"}},
    {"storage": {"size": "1.5G", "storageClassName": "fast-ssd"}, "replicas": 1},
    {"storage": {"size": "512Mi"}, "replicas": 0},
    {"storage": {}},
    {"storage": {"storageClassName": "fast-ssd"}},
    {"storage": {"ephemeral": True}, "replicas": 3},
    {"storage": {"postgres": {"urlSecretRef": {"name": "osc-db-app", "key": "uri"}}},
     "replicas": 3},
    {"storage": POSTGRES, "autoscaling": {"maxReplicas": 10}},
    {"storage": POSTGRES, "replicas": 1, "autoscaling": {
        "minReplicas": 3, "maxReplicas": 3, "targetQueuedPerReplica": 50}},
    {"replicas": 3},
    {"env": [{"name": "OSC_LOG_JOB_OUTPUT", "value": "true"},
             {"name": "OSC_NPM_REGISTRY", "value": "https://npm.example.com/"},
             {"name": "OSC_FLOW_RETRY_BACKOFF_SECONDS", "value": "2"}]},
    {"trigger": {"webhook": {"allowUnauthenticated": True}}},
    {"trigger": {"webhook": {"allowUnauthenticated": False,
                             "authSecretRef": {"name": "a", "key": "b"}}}},
])
def test_valid_variants_are_accepted(spec: dict[str, Any]) -> None:
    assert problems(with_spec(**spec)) == []


@pytest.mark.parametrize("url", GOOD_REGISTRIES)
def test_registry_urls_are_accepted_by_the_crd_and_the_operator(url: str) -> None:
    from osc_operator.api import parse_spec

    job = with_spec(adaptorInstall={"registry": url,
                                    "npmrcSecretRef": {"name": "npm-auth", "key": ".npmrc"}})
    assert problems(job) == []
    assert parse_spec(job["spec"]).adaptor_install.registry == url


def test_a_refused_registry_is_not_repeated_in_the_message() -> None:
    """The message becomes a Ready condition and an Event: a password in the URL stays out."""
    from osc_operator.reconcile import InvalidSpec, validate

    spec = with_spec(adaptorInstall={"registry": "https://user:s3cret@npm.example.com/"})["spec"]
    with pytest.raises(InvalidSpec, match="spec.adaptorInstall.registry: not an http") as error:
        validate("demo", spec)
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize("name", INVALID)
def test_the_operator_models_agree_with_the_crd(name: str) -> None:
    from pydantic import ValidationError

    from osc_operator.api import parse_spec

    with pytest.raises(ValidationError):
        parse_spec(INVALID[name][0]["spec"])


def test_a_job_cannot_flow_into_itself() -> None:
    job = with_spec(trigger={"flow": {"after": "demo", "on": "success"}})
    assert "<root>: a job cannot flow into itself" in problems(job)
    job["metadata"]["name"] = "other"
    assert problems(job) == []


@pytest.mark.parametrize("schedule", ["61 * * * *", "* 24 * * *", "*/0 * * * *", "0 0 * FOO *",
                                      "0 0 32 * *"])
def test_the_operator_parses_schedules_the_pattern_lets_through(schedule: str) -> None:
    """The CRD's pattern checks the shape; the operator also parses the values (croniter)."""
    from pydantic import ValidationError

    from osc_operator.api import parse_spec

    job = with_spec(trigger={"cron": {"schedule": schedule}})
    assert problems(job) == []  # the shape is right …
    with pytest.raises(ValidationError, match="is not a cron schedule"):
        parse_spec(job["spec"])  # … the values are not


def test_the_operator_knows_which_time_zones_exist() -> None:
    from pydantic import ValidationError

    from osc_operator.api import parse_spec

    job = with_spec(trigger={"cron": {"schedule": "@hourly", "timeZone": "Mars/Olympus_Mons"}})
    assert problems(job) == []
    with pytest.raises(ValidationError, match="is not an IANA time zone"):
        parse_spec(job["spec"])
    assert parse_spec(with_spec(trigger={"cron": {"schedule": "@hourly", "timeZone": "UTC"}})[
        "spec"]).trigger.cron.time_zone == "UTC"
