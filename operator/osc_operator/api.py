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
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

GROUP = "osc.openfn.org"
VERSION = "v1alpha1"
KIND = "OpenFnJob"
PLURAL = "openfnjobs"
SINGULAR = "openfnjob"
SHORT_NAMES = ["ofj"]

# An npm package name (`name` or `@scope/name`) with an optional `@version` or range. The same
# language as the runtime's OSC_ADAPTOR check, written without named groups so that both
# Kubernetes (RE2) and Python accept it: no paths, URLs, git specs or shell metacharacters.
ADAPTOR_PATTERN = (
    r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*"
    r"(@[0-9xX*^~<>=|. -]*[0-9xX*][0-9A-Za-z.+xX*^~<>=| -]*)?$"
)
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CONFIG_KEY = r"^[-._a-zA-Z0-9]+$"
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
# SQLite on a ReadWriteOnce volume: one pod may open the run store, never two.
ONE_POD_WITH_STORAGE = {"rule": "!has(self.storage) || !has(self.replicas) || self.replicas <= 1",
                        "message": "replicas must be 0 or 1 with storage (one pod owns the "
                                   "ReadWriteOnce run store)"}


def exactly_one_of(*fields: str) -> dict[str, str]:
    """A CEL rule (x-kubernetes-validations) that exactly one of `fields` is set."""
    checks = ", ".join(f"has(self.{field})" for field in fields)
    names = ", ".join(fields)
    return {"rule": f"[{checks}].exists_one(x, x)", "message": f"set exactly one of: {names}"}


def _set_exactly_one(model: BaseModel, *fields: str) -> None:
    """The same rule as `exactly_one_of`, for the operator's own validation."""
    present = [field for field in fields if getattr(model, _snake(field)) is not None]
    if len(present) != 1:
        raise ValueError(exactly_one_of(*fields)["message"])


def _snake(camel: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in camel)


class Model(BaseModel):
    """camelCase on the wire; unknown fields are errors, as in a structural schema."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class KeyRef(Model):
    name: str = Field(description="Name of the object in the OpenFnJob's namespace.",
                      min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field(description="The key inside it.", min_length=1, max_length=253,
                     pattern=CONFIG_KEY)


class JobSource(Model):
    config_map_key_ref: KeyRef = Field(
        description="A key of a ConfigMap holding the job expression.")


class Credential(Model):
    secret_ref: KeyRef = Field(
        description="A key of a Secret holding the credential JSON (state.configuration). "
        "It is mounted read-only as a file, never passed as an environment value.")


class WebhookTrigger(Model):
    auth_secret_ref: KeyRef | None = Field(
        None, description="A key of your own Secret holding the inbox API key. Without it the "
        "operator generates a random key in the Secret `<name>-inbox` (key `api-key`).")
    filter: dict[str, Any] | None = Field(
        None, description="Message filter: JSON path (`data.status`, `$.a.b`, `items[0].id`) → "
        "expected JSON value. Only bodies matching every entry start a run; others are "
        "answered 200 `{\"matched\": false}`.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})


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


class EnvVar(Model):
    name: str = Field(description="Environment variable name.", pattern=ENV_NAME)
    value: str | None = Field(None, description="Its value.")
    value_from: dict[str, Any] | None = Field(
        None, description="A source for the value (as in a Pod's env[].valueFrom).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})


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


class Storage(Model):
    size: str = Field(
        description="Size of the PersistentVolumeClaim `<name>-data` holding the run store "
        "(queued runs and run history), e.g. `1Gi`. It can grow (if the storage class allows "
        "expansion) but never shrink: a smaller size keeps the current one.",
        max_length=64, json_schema_extra={"pattern": SIZE_PATTERN})
    storage_class_name: str | None = Field(
        None, description="StorageClass of the claim; the cluster's default without it.",
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)

    @field_validator("size")
    @classmethod
    def _positive_size(cls, size: str) -> str:
        if not quantity_bytes(size):
            raise ValueError(f"{size!r} is not a storage size: use a positive quantity such "
                             "as `512Mi` or `1Gi`")
        return size


class OpenFnJobSpec(Model):
    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [exactly_one_of("job", "jobFrom"), ONE_POD_WITH_STORAGE]})

    job: str | None = Field(None, min_length=1, description="The job expression, inline.")
    job_from: JobSource | None = Field(None, description="Where to read the job expression.")
    adaptor: str = Field(pattern=ADAPTOR_PATTERN, max_length=214, description=(
        "npm package of the adaptor with an optional version, "
        "e.g. `@openfn/language-http@7.2.10`."))
    credential: Credential | None = Field(None, description="The job's credential.")
    adaptor_install: AdaptorInstall | None = Field(
        None, description="Where to install the adaptor from when the runtime image does not "
        "bundle it (an init container installs it): a private registry or mirror, and an "
        "`.npmrc` Secret. Without it npm's public registry is used.")
    trigger: Trigger = Field(description="How runs start: exactly one of webhook, cron, flow.")
    image: str | None = Field(None, min_length=1,
                              description="Runtime image; defaults to the operator's.")
    replicas: int = Field(1, ge=0, le=100, description="Number of runtime pods.")
    resources: Resources | None = Field(None, description="CPU/memory of the runtime container.")
    env: list[EnvVar] | None = Field(None, description="Extra environment of the runtime.")
    run_timeout_seconds: int | None = Field(None, ge=1, description="Stop a run after this.")
    concurrency: int | None = Field(None, ge=1, le=256, description="Runs at once per pod.")
    storage: Storage | None = Field(
        None, description="Keep the run store on a PersistentVolumeClaim `<name>-data` "
        "(ReadWriteOnce), so queued runs and run history survive pod replacement (rollouts, "
        "drains, evictions). Without it they live in an emptyDir and survive only container "
        "restarts. With it replicas is at most 1 and pods are replaced with strategy Recreate. "
        "The claim belongs to the OpenFnJob: deleting the job deletes its data.")

    @model_validator(mode="after")
    def _one_job(self) -> OpenFnJobSpec:
        _set_exactly_one(self, "job", "jobFrom")
        if self.storage is not None and self.replicas > 1:
            raise ValueError(ONE_POD_WITH_STORAGE["message"])
        return self


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
