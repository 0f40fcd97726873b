"""The OpenFnJob API: pydantic models of its spec and status.

These models are the one source of the CRD (`crdgen.py` turns them into the openAPIV3Schema)
and the operator validates every body with them, so the cluster and the operator agree on what
a valid OpenFnJob is. Field descriptions become `kubectl explain openfnjob.spec` text.
"""

from __future__ import annotations

import re
import urllib.parse
import zoneinfo
from enum import StrEnum
from typing import Any, Literal

from croniter import croniter
from pydantic import ConfigDict, Field, field_validator, model_validator

from osc_operator.api_autoscaling import (AUTOSCALING_NEEDS_POSTGRES, AUTOSCALING_OWNS_REPLICAS,
                                          Autoscaling, check_autoscaling)
from osc_operator.api_types import (ADAPTOR_PATTERN, DNS_SUBDOMAIN, Credential, JobSource, KeyRef,
                                    Model, exactly_one_of, set_exactly_one as _set_exactly_one)
from osc_operator.api_webhook import (IDEMPOTENCY_FROM_PATTERN, ONE_API_KEY_SECRET, AcceptReply,
                                      WebhookAuth)
from osc_operator.api_workflow import (MAX_EDGES, MAX_STEPS, WORKFLOW_ALONE, WORKFLOW_RULES,
                                       WorkflowEdge, WorkflowStep, check_workflow)

GROUP = "osc.openfn.org"
VERSION = "v1alpha1"
KIND = "OpenFnJob"
PLURAL = "openfnjobs"
SINGULAR = "openfnjob"
SHORT_NAMES = ["ofj"]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# What a Kubernetes CronJob accepts: five fields (numbers, ranges, steps, lists, `*`, `?`,
# three-letter month/day names) or one of the standard macros. The operator also parses the
# schedule with croniter, which catches what a pattern cannot (`61 * * * *`).
_CRON_ITEM = r"(\*|\?|[0-9]+(-[0-9]+)?|[A-Za-z]{3}(-[A-Za-z]{3})?)(/[0-9]+)?"
_CRON_FIELD = rf"{_CRON_ITEM}(,{_CRON_ITEM})*"
CRON_MACROS = ("yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly")
CRON_PATTERN = (rf"^(@({'|'.join(CRON_MACROS)})|{_CRON_FIELD}( +{_CRON_FIELD}){{4}})$")
# An http(s) registry URL: host name, IPv4 or [IPv6], optional port and path. No `user:password@`
# (credentials belong in the npmrc Secret, not in a spec anyone may read), no query or fragment.
REGISTRY_PATTERN = (r"^https?://([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                    r"(:[0-9]{1,5})?(/[^\s?#]*)?$")
# An IANA time zone name (`Europe/Berlin`, `Etc/GMT+5`, `UTC`); the operator checks it exists.
TIME_ZONE_PATTERN = r"^[A-Za-z][-+_A-Za-z0-9]*(/[-+_A-Za-z0-9]+)*$"
# A storage size: a positive Kubernetes quantity without sign or exponent (`512Mi`, `1.5G`).
QUANTITY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
                  "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
                  "Ei": 2**60}
SIZE_PATTERN = (r"^([1-9][0-9]*(\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)"
                r"(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
# SQLite on a ReadWriteOnce volume: one pod may open the run store, never two (on PostgreSQL,
# storage.postgres, any number may).
ONE_POD_WITH_STORAGE = {"rule": "!has(self.storage) || (has(self.storage.ephemeral) && "
                                "self.storage.ephemeral) || has(self.storage.postgres) || "
                                "!has(self.replicas) || self.replicas <= 1",
                        "message": "replicas must be 0 or 1 with storage (one pod owns the "
                                   "ReadWriteOnce run store; storage.postgres allows more)"}


# `spec.env` may not set what the operator sets (render.py, adaptor_install.py) nor what
# changes who may call the runtime or what it reads: a spec field says each of those.
RESERVED_ENV = (
    "OSC_JOB", "OSC_JOB_NAME", "OSC_ADAPTOR", "OSC_TRIGGER", "OSC_CREDENTIAL", "OSC_DATA_DIR",
    "OSC_HOST", "OSC_PORT", "OSC_RUN_TIMEOUT_SECONDS", "OSC_CONCURRENCY", "OSC_FILTER",
    "OSC_ADAPTORS_DIR", "OSC_ADAPTOR_INSTALL", "OSC_TRIGGER_URL", "OSC_ON_INVALID_JOB",
    "OSC_DATABASE_URL", "OSC_DATABASE_URL_PATH")
# The webhook methods (spec.trigger.webhook.auth, idempotencyFrom, acceptReply) are whole prefixes.
RESERVED_ENV_PREFIXES = ("OSC_AUTH", "OSC_API_KEY", "OSC_FLOW_TARGETS", "OSC_BASIC_AUTH",
                         "OSC_SIGNATURE", "OSC_IDEMPOTENCY_FROM", "OSC_ACCEPT_")
RESERVED_ENV_SUFFIX = "_PATH"  # every OSC_*_PATH: the files the runtime reads
ENV_NAME_MAX = 253
ENV_MAX_ITEMS = 200
_RESERVED_CEL = (
    f"!(self.name in [{', '.join(repr(name) for name in RESERVED_ENV)}]) && "
    + " && ".join(f"!self.name.startsWith('{prefix}')" for prefix in RESERVED_ENV_PREFIXES)
    + f" && !(self.name.startsWith('OSC_') && self.name.endsWith('{RESERVED_ENV_SUFFIX}'))")
NOT_RESERVED_ENV = {
    "rule": _RESERVED_CEL,
    "messageExpression": "self.name + ' is set by the osc operator or changes the "
                         "runtime security: use the OpenFnJob field for it (see the README)'",
    "message": "a variable the osc operator sets or that changes the runtime's security"}


def reserved_env(name: str) -> bool:
    """Whether `spec.env` may not set `name` (the same test as the CRD's rule)."""
    return (name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES)
            or (name.startswith("OSC_") and name.endswith(RESERVED_ENV_SUFFIX)))


NO_KEY_WHEN_OPEN = {"rule": "!has(self.allowUnauthenticated) || !self.allowUnauthenticated "
                            "|| (!has(self.authSecretRef) && !has(self.auth))",
                    "message": "allowUnauthenticated takes no authSecretRef and no auth methods "
                               "(nothing is checked)"}


class WebhookTrigger(Model):
    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [ONE_API_KEY_SECRET, NO_KEY_WHEN_OPEN]})

    auth_secret_ref: KeyRef | None = Field(
        None, description="A key of your own Secret holding the inbox API key. Without it the "
        "operator generates a random key in the Secret `<name>-inbox` (key `api-key`). "
        "The same as auth.apiKey.secretRef.")
    allow_unauthenticated: bool | None = Field(
        None, description="Accept POSTs without any authentication (OSC_AUTH=none): anyone who "
        "can reach the Service can start runs. Only with `true` here, never by default; no "
        "inbox key is made or mounted then, and no other auth method may be set.")
    filter: dict[str, Any] | None = Field(
        None, description="Message filter: JSON path (`data.status`, `$.a.b`, `items[0].id`) → "
        "expected JSON value. Only bodies matching every entry start a run; others are "
        "answered 200 `{\"matched\": false}`.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    auth: WebhookAuth | None = Field(
        None, description="Ways in besides the API key: Basic, a query parameter, a signature; "
        "any one that matches authenticates. Every Secret is mounted read-only as a file, "
        "and a change to one rolls the pods.")
    idempotency_from: str | None = Field(
        None, max_length=300, pattern=IDEMPOTENCY_FROM_PATTERN,
        description="The sender's delivery id, used as the Idempotency-Key of a request that "
        "sends none: `header:<name>` (`header:X-GitHub-Delivery`, "
        "`header:X-Shopify-Webhook-Id`) or `json:<path>` into the body (`json:$._uuid` for "
        "Kobo, `json:$.id` for Stripe). A redelivery then creates no second run.")
    accept_reply: AcceptReply | None = Field(
        None, description="The answer to an accepted delivery, for senders that need a fixed "
        "one (Salesforce: status 200 and the SOAP Ack).")

    @model_validator(mode="after")
    def _one_api_key_secret(self) -> WebhookTrigger:
        api_key = self.auth.api_key if self.auth else None
        if self.auth_secret_ref is not None and api_key is not None and api_key.secret_ref:
            raise ValueError(ONE_API_KEY_SECRET["message"])
        return self

    @model_validator(mode="after")
    def _no_key_when_open(self) -> WebhookTrigger:
        if self.allow_unauthenticated and (self.auth_secret_ref is not None
                                           or self.auth is not None):
            raise ValueError(NO_KEY_WHEN_OPEN["message"])
        return self

    @property
    def authenticated(self) -> bool:
        return not self.allow_unauthenticated


class ConcurrencyPolicy(StrEnum):
    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"


class CronTrigger(Model):
    schedule: str = Field(
        description="Cron schedule: five fields (`*/5 * * * *`) or a macro (`@hourly`, "
        "`@daily`, `@weekly`, `@monthly`, `@yearly`).", min_length=1, max_length=200,
        json_schema_extra={"pattern": CRON_PATTERN})
    time_zone: str | None = Field(
        None, description="IANA time zone of the schedule, e.g. `Europe/Berlin`; the "
        "cluster's default (usually UTC) without it.", min_length=1, max_length=64,
        json_schema_extra={"pattern": TIME_ZONE_PATTERN, "x-kubernetes-validations": [
            {"rule": "self != 'Local'", "message": "name a time zone, not Local"}]})
    concurrency_policy: ConcurrencyPolicy | None = Field(
        None, description="When a tick is due while the last tick's trigger pod still runs: "
        "Forbid (default), Allow or Replace.")
    starting_deadline_seconds: int | None = Field(
        None, ge=0, description="How late a missed tick may still start.")

    @field_validator("schedule")
    @classmethod
    def _real_schedule(cls, schedule: str) -> str:
        if not re.match(CRON_PATTERN, schedule) or not croniter.is_valid(schedule):
            raise ValueError(f"{schedule!r} is not a cron schedule: use five fields "
                             "(minute hour day-of-month month day-of-week, e.g. `*/5 * * * *`) "
                             f"or one of @{', @'.join(CRON_MACROS)}")
        return schedule

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, time_zone: str | None) -> str | None:
        if time_zone is not None and not _is_time_zone(time_zone):
            raise ValueError(f"{time_zone!r} is not an IANA time zone (e.g. `Europe/Berlin`, "
                             "`Etc/UTC`)")
        return time_zone


def _is_time_zone(name: str) -> bool:
    """Whether `name` is in the IANA database (`Local` is not explicit: Kubernetes refuses it)."""
    if name == "Local" or not re.match(TIME_ZONE_PATTERN, name):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


class FlowTrigger(Model):
    after: str = Field(description="Name of the OpenFnJob (same namespace) this one follows. "
                       "Its runs' outcomes are POSTed to this job's inbox.",
                       min_length=1, max_length=63, pattern=DNS_LABEL)
    on: Literal["success", "failure"] = Field(
        description="Follow its successes or failures. Quote the key in YAML "
        "(`\"on\": success`): YAML 1.1 reads a bare `on` as the boolean true.")


class Trigger(Model):
    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [exactly_one_of("webhook", "cron", "flow")]})

    webhook: WebhookTrigger | None = Field(None, description="Run on authenticated POSTs.")
    cron: CronTrigger | None = Field(None, description="Run on a schedule.")
    flow: FlowTrigger | None = Field(None, description="Run after another OpenFnJob.")

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        _set_exactly_one(self, "webhook", "cron", "flow")
        return self

    @property
    def kind(self) -> str:
        return "webhook" if self.webhook else "cron" if self.cron else "flow"


class AdaptorInstall(Model):
    registry: str | None = Field(
        None, min_length=1, max_length=2048, json_schema_extra={"pattern": REGISTRY_PATTERN},
        description="npm registry or mirror to install the adaptor from (http or https), e.g. "
        "`https://npm.example.com/`: OSC_NPM_REGISTRY of the install init container. "
        "No credentials in the URL: put a token in the npmrc Secret.")
    npmrc_secret_ref: KeyRef | None = Field(
        None, description="A key of a Secret holding an `.npmrc` (e.g. "
        "`//npm.example.com/:_authToken=...`). It is mounted read-only into the install init "
        "container only (OSC_NPMRC_PATH); the runtime container never sees it.")

    @field_validator("registry")
    @classmethod
    def _registry_url(cls, registry: str | None) -> str | None:
        if registry is not None and not _is_registry_url(registry):
            # The value is not repeated: it may hold a password that must not reach Events.
            raise ValueError("not an http(s) registry URL such as `https://npm.example.com/` "
                             "(no credentials, query or fragment: a token belongs in "
                             "npmrcSecretRef)")
        return registry


def _is_registry_url(url: str) -> bool:
    if not re.fullmatch(REGISTRY_PATTERN, url):
        return False
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 (raises ValueError above 65535)
    except ValueError:
        return False
    return True


# What a reserved variable is asked for with instead.
ENV_FIELDS = {"OSC_AUTH": "spec.trigger.webhook.allowUnauthenticated",
              "OSC_API_KEYS": "spec.trigger.webhook.authSecretRef",
              "OSC_CREDENTIAL": "spec.credential", "OSC_FILTER": "spec.trigger.webhook.filter",
              "OSC_RUN_TIMEOUT_SECONDS": "spec.runTimeoutSeconds",
              "OSC_CONCURRENCY": "spec.concurrency", "OSC_JOB": "spec.job or spec.jobFrom",
              "OSC_ADAPTOR": "spec.adaptor", "OSC_FLOW_TARGETS": "a flow trigger on the other job",
              "OSC_NPMRC": "spec.adaptorInstall.npmrcSecretRef",
              "OSC_JOB_NAME": "metadata.name", "OSC_WORKFLOW": "spec.steps and spec.edges",
              "OSC_DATABASE_URL": "spec.storage.postgres.urlSecretRef"}


class EnvVar(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [NOT_RESERVED_ENV]})

    name: str = Field(description="Environment variable name. Not one the operator sets or "
                      "that changes the runtime's security (OSC_AUTH, OSC_API_KEYS*, "
                      "OSC_*_PATH, OSC_FLOW_TARGETS*, OSC_DATA_DIR, OSC_PORT, …): each has a "
                      "field of its own.", pattern=ENV_NAME, max_length=ENV_NAME_MAX)
    value: str | None = Field(None, description="Its value.")
    value_from: dict[str, Any] | None = Field(
        None, description="A source for the value (as in a Pod's env[].valueFrom).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if reserved_env(name):
            instead = ENV_FIELDS.get(name) or ENV_FIELDS.get(name.removesuffix("_PATH")) or next(
                (field for prefix, field in ENV_FIELDS.items() if name.startswith(prefix)), None)
            use = f"use {instead}" if instead else "the operator sets it"
            raise ValueError(f"{name} may not be set here: it is set by the osc operator or "
                             f"changes the runtime's security ({use})")
        return name


class Resources(Model):
    limits: dict[str, int | str] | None = Field(None, description="Resource limits.")
    requests: dict[str, int | str] | None = Field(None, description="Resource requests.")


def quantity_bytes(quantity: str) -> int | None:
    """Bytes of a plain quantity (`1Gi`, `500M`); None for another form (`1e9`, `-1`)."""
    match = re.fullmatch(SIZE_PATTERN, quantity)
    if match is None:
        return None
    suffix = match.group(3) or ""
    whole, _, fraction = quantity.removesuffix(suffix).partition(".")
    unit = QUANTITY_UNITS[suffix]
    return int(whole) * unit + int(fraction or "0") * unit // 10 ** len(fraction)


DEFAULT_STORAGE_SIZE = "1Gi"
EPHEMERAL_ALONE = {"rule": "!has(self.ephemeral) || !self.ephemeral || "
                           "(!has(self.size) && !has(self.storageClassName))",
                   "message": "ephemeral takes no size or storageClassName (no claim is made)"}


POSTGRES_ALONE = {"rule": "!has(self.postgres) || (!has(self.size) && "
                          "!has(self.storageClassName) && !has(self.ephemeral))",
                  "message": "postgres takes no size, storageClassName or ephemeral (the run "
                             "store is in the database, no claim is made)"}


class PostgresStorage(Model):
    url_secret_ref: KeyRef = Field(description=(
        "The Secret key holding the database's `postgresql://` URL (a CloudNativePG "
        "`<cluster>-app` Secret's `uri` key works as it is); mounted as a file, and a change "
        "rolls the pods."))


class Storage(Model):
    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [EPHEMERAL_ALONE, POSTGRES_ALONE]})

    size: str | None = Field(
        None, description="Size of the PersistentVolumeClaim `<name>-data` holding the run "
        f"store (queued runs and run history), e.g. `1Gi`; {DEFAULT_STORAGE_SIZE} without it. "
        "It can grow (if the storage class allows expansion) but never shrink: a smaller size "
        "keeps the current one.", max_length=64, json_schema_extra={"pattern": SIZE_PATTERN})
    storage_class_name: str | None = Field(
        None, description="StorageClass of the claim; the cluster's default without it.",
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    ephemeral: bool | None = Field(
        None, description="`true`: keep the run store in an emptyDir on purpose (no claim): "
        "queued runs and history are lost whenever the pod is replaced (rollout, drain, "
        "eviction). The job reports Durable=False.")
    postgres: PostgresStorage | None = Field(
        None, description="The run store on PostgreSQL instead of a claim: the replicas share "
        "it (each run is taken by one, and run again by another if its pod dies), so replicas "
        "may be above 1 and pods roll one by one.")

    @field_validator("size")
    @classmethod
    def _positive_size(cls, size: str | None) -> str | None:
        if size is not None and not quantity_bytes(size):
            raise ValueError(f"{size!r} is not a storage size: use a positive quantity such "
                             "as `512Mi` or `1Gi`")
        return size

    @model_validator(mode="after")
    def _ephemeral_alone(self) -> Storage:
        if self.ephemeral and (self.size is not None or self.storage_class_name is not None):
            raise ValueError(EPHEMERAL_ALONE["message"])
        if self.postgres is not None and (self.size is not None or self.ephemeral is not None
                                          or self.storage_class_name is not None):
            raise ValueError(POSTGRES_ALONE["message"])
        return self

    @property
    def claim_size(self) -> str:
        return self.size or DEFAULT_STORAGE_SIZE


class OpenFnJobSpec(Model):
    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [exactly_one_of("job", "jobFrom", "steps"),
                                     ONE_POD_WITH_STORAGE, *WORKFLOW_RULES,
                                     AUTOSCALING_NEEDS_POSTGRES, AUTOSCALING_OWNS_REPLICAS]})

    job: str | None = Field(None, min_length=1, description="The job expression, inline.")
    job_from: JobSource | None = Field(None, description="Where to read the job expression.")
    adaptor: str | None = Field(None, pattern=ADAPTOR_PATTERN, max_length=214, description=(
        "npm package of the adaptor with an optional version, "
        "e.g. `@openfn/language-http@7.2.10`. Required with job or jobFrom; a workflow names "
        "one per step."))
    credential: Credential | None = Field(None, description="The job's credential.")
    steps: list[WorkflowStep] | None = Field(
        None, min_length=1, max_length=MAX_STEPS,
        description="A workflow instead of a single job: its steps, each with its own adaptor, "
        "expression and credential, run as one run (see the README's Workflows section).")
    edges: list[WorkflowEdge] | None = Field(
        None, min_length=1, max_length=MAX_EDGES,
        description="How the steps follow each other: exactly one edge from `trigger` (the "
        "first step), then edges from step to step with their conditions; no cycles.")
    adaptor_install: AdaptorInstall | None = Field(
        None, description="Where to install the adaptor from when the runtime image does not "
        "bundle it (an init container installs it): a private registry or mirror, and an "
        "`.npmrc` Secret. Without it npm's public registry is used.")
    trigger: Trigger = Field(description="How runs start: exactly one of webhook, cron, flow.")
    image: str | None = Field(None, min_length=1,
                              description="Runtime image; defaults to the operator's.")
    replicas: int = Field(1, ge=0, le=100, description="Number of runtime pods.")
    resources: Resources | None = Field(None, description="CPU/memory of the runtime container.")
    env: list[EnvVar] | None = Field(None, description="Extra environment of the runtime.",
                                     max_length=ENV_MAX_ITEMS)
    run_timeout_seconds: int | None = Field(None, ge=1, description="Stop a run after this.")
    concurrency: int | None = Field(None, ge=1, le=256, description="Runs at once per pod.")
    storage: Storage | None = Field(
        None, description="Where the run store lives. By default (and with a size or class "
        "here) on a PersistentVolumeClaim `<name>-data` (ReadWriteOnce), so queued runs and "
        "run history survive pod replacement (rollouts, drains, evictions): replicas is at most "
        "1 and pods are replaced with strategy Recreate. Without spec.storage the claim is made "
        f"({DEFAULT_STORAGE_SIZE}) when the cluster has a default StorageClass; otherwise, with "
        "replicas above 1, or with `ephemeral: true`, the store is an emptyDir (Durable=False). "
        "The claim belongs to the OpenFnJob: deleting the job deletes its data.")
    autoscaling: Autoscaling | None = Field(
        None, description="Let an autoscaler set the number of pods, from minReplicas to "
        "maxReplicas, on the queue (KEDA's ScaledObject when KEDA is installed, otherwise a "
        "HorizontalPodAutoscaler on CPU). Needs storage.postgres; replicas is left out.")

    @model_validator(mode="after")
    def _one_job(self) -> OpenFnJobSpec:
        _set_exactly_one(self, "job", "jobFrom", "steps")
        if (self.steps is None) != (self.adaptor is not None) or (
                self.steps is not None and self.credential is not None):
            raise ValueError(WORKFLOW_ALONE["message"])
        if self.steps is not None or self.edges is not None:
            check_workflow(self.steps or [], self.edges or [])
        if self.storage is not None and not self.storage.ephemeral \
                and self.storage.postgres is None and self.replicas > 1:
            raise ValueError(ONE_POD_WITH_STORAGE["message"])
        on_postgres = self.storage is not None and self.storage.postgres is not None
        check_autoscaling(self.autoscaling, on_postgres, self.replicas)
        return self

    @property
    def is_workflow(self) -> bool:
        return self.steps is not None

    def adaptors(self) -> list[str]:
        """Every adaptor the job runs: its own, or each step's (once each, in step order)."""
        named = [step.adaptor for step in self.steps] if self.steps else [self.adaptor]
        return list(dict.fromkeys(named))


class Condition(Model):
    type: str = Field(description="Condition type, e.g. Ready.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the last transition.")
    message: str = Field("", description="Human-readable details.")
    observed_generation: int | None = Field(None, description="Generation it describes.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).",
                                      json_schema_extra={"format": "date-time"})


class OpenFnJobStatus(Model):
    conditions: list[Condition] | None = Field(None, description="Ready and its reason.")
    observed_generation: int | None = Field(None, description="Last reconciled generation.")
    url: str | None = Field(None, description="In-cluster URL of the job's inbox.")
    inbox_secret: str | None = Field(None, description="Secret holding the inbox key.")
    trigger: str | None = Field(None, description="The trigger kind in use.")
    flow_targets: list[str] | None = Field(
        None, description="The OpenFnJobs that run after this one (flow triggers naming it), "
        "which its runtime hands its runs' outcomes to.")


# Checked by the API server on the whole object (a spec cannot see its own name); a longer
# cycle spans several objects, so only the operator can refuse it.
NO_SELF_FLOW = {"rule": "!has(self.spec.trigger.flow) || self.spec.trigger.flow.after != "
                        "self.metadata.name", "message": "a job cannot flow into itself"}


def parse_spec(spec: dict[str, Any]) -> OpenFnJobSpec:
    """Validate a CR's spec; raises pydantic.ValidationError."""
    return OpenFnJobSpec.model_validate(dict(spec))
