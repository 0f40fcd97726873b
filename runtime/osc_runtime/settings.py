"""The runtime's configuration: the OSC_* environment variables.

These variables are the contract between the runtime and whoever starts it: the operator's
Deployment, the Helm chart, a baked image or `make run`. Each one is documented in the README.
A missing or invalid setting stops start-up with one line naming the variable (see `load`).
"""

from __future__ import annotations

import functools
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from osc_runtime.workflow.plan import Plan, PlanError, load_plan

# `@scope/name` or `name`, optionally `@<semver version or range>`: no paths, URLs, git specs or
# shell metacharacters (a range may hold spaces, `|`, `<`, `>`, `=`, `^`, `~`, `*`, `x`, `-`, `.`).
ADAPTOR_PATTERN = re.compile(
    r"^(?P<name>(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*)"
    r"(@(?P<version>[0-9xX*^~<>=|. -]*[0-9xX*][0-9A-Za-z.+xX*^~<>=| -]*))?$"
)
MAX_ADAPTOR_NAME = 214  # npm's own limit on a package name
MAX_ADAPTOR_SPEC = MAX_ADAPTOR_NAME + 1 + 256  # and a version range of at most 256 characters
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


class EndpointStyle(StrEnum):
    ASYNC = "async"
    SYNC = "sync"


class AuthMode(StrEnum):
    API_KEY = "apikey"
    NONE = "none"


class EngineKind(StrEnum):
    CORE = "core"
    WARM = "warm"


class AdaptorInstall(StrEnum):
    IF_MISSING = "if-missing"
    NEVER = "never"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    # An empty variable means "not set": images and manifests can then leave a setting blank
    # (e.g. the runtime image's OSC_JOB_PATH when no job is baked in).
    model_config = SettingsConfigDict(
        env_prefix="OSC_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    # the job
    job: str | None = Field(None, description="The job expression inline (or OSC_JOB_PATH).")
    job_path: Path | None = Field(None, description="A file holding the job expression.")
    workflow_path: Path | None = Field(
        None, description="A workflow plan file (steps, edges) instead of OSC_JOB(_PATH).")
    job_name: str = Field("job", description="The job's name, shown in logs and the console.")
    adaptor: str | None = Field(
        None, description="npm package of the adaptor, optionally @version or range.")
    trigger: str = Field("webhook", description="How runs arrive, shown in the console.")
    # the credential: JSON, becomes state.configuration
    credential: SecretStr | None = Field(None, description="The credential JSON inline.")
    credential_path: Path | None = Field(None, description="A file holding the credential JSON.")
    # who may call
    auth: AuthMode = Field(AuthMode.API_KEY, description="apikey, or none: no authentication.")
    api_keys: SecretStr | None = Field(None, description="Comma-separated API keys.")
    api_keys_path: Path | None = Field(None, description="A file of API keys, one per line.")
    api_key_schemes: str = Field("Bearer", description="Authorization schemes carrying a key.")
    api_key_header: str = Field("X-API-Key", min_length=1, description="A header carrying a key.")
    api_key_query_param: str | None = Field(None, description="A query parameter carrying a key.")
    basic_auth_path: Path | None = Field(None, description="username:password lines (Basic).")
    signature: str | None = Field(None, description="github, shopify, stripe or hmac:...")
    signature_secret_path: Path | None = Field(None, description="Signing secrets, one per line.")
    # webhooks: sender-side deduplication and the accept answer
    idempotency_from: str | None = Field(None, description="header:<name> or json:<path>.")
    accept_status: int | None = Field(None, ge=200, le=299, description="Accept answer status.")
    accept_content_type: str | None = Field(None, description="Accept answer content type.")
    accept_body: str | None = Field(None, description="Accept answer body, inline.")
    accept_body_path: Path | None = Field(None, description="Accept answer body, from a file.")
    # serving
    data_dir: Path = Field(Path("/var/lib/osc"), description="The run store, run logs, scratch.")
    database_url: SecretStr | None = Field(
        None, description="A PostgreSQL URL: the run store there, shared by replicas.")
    database_url_path: Path | None = Field(None, description="A file holding the PostgreSQL URL.")
    lease_seconds: float = Field(
        30, ge=1, description="PostgreSQL: a replica's hold on a run, renewed while it runs.")
    # An IP address or a DNS name (at most 253 characters, labels of at most 63).
    host: str = Field("0.0.0.0", max_length=253, pattern=r"^(\[?[0-9A-Fa-f:.]+\]?|"
                      r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?)$",
                      description="The address to listen on.")
    port: int = Field(8080, ge=1, le=65535, description="The port to listen on.")
    concurrency: int = Field(2, ge=1, le=256, description="Runs executed at the same time.")
    run_timeout_seconds: float = Field(300, gt=0, description="A longer run is killed: timed_out.")
    max_body_bytes: int = Field(1_048_576, ge=1, description="Larger request bodies get 413.")
    max_connections: int = Field(1000, ge=1, description="Open connections at most; more are refused.")
    header_timeout_seconds: float = Field(10, gt=0, description="How long a request's headers may take.")
    body_timeout_seconds: float = Field(60, gt=0, description="How long a request's body may take.")
    endpoint_style: EndpointStyle = Field(
        EndpointStyle.ASYNC, description="sync: POST /inbox waits for the run (as ?sync=true).")
    sync_wait_seconds: float = Field(30, gt=0, description="How long ?sync=true waits.")
    # the engine and the node side
    engine: EngineKind = Field(EngineKind.CORE, description="core (a node per run) or warm.")
    node_modules: Path = Field(DEFAULT_NODE_MODULES, description="Where core and adaptors are.")
    node_binary: str = Field("node", description="The Node.js executable.")
    adaptors_dir: Path | None = Field(None, description="Where missing adaptors are installed.")
    adaptor_install: AdaptorInstall = Field(
        AdaptorInstall.IF_MISSING, description="if-missing: npm-install a missing adaptor; never.")
    npm_registry: str | None = Field(None, description="The npm registry for adaptor installs.")
    npmrc_path: Path | None = Field(None, description="An .npmrc for adaptor installs.")
    # a job that does not compile: stay up and say so (503), or exit (the operator's pods)
    on_invalid_job: Literal["serve", "exit"] = Field(
        "serve", description="serve: stay up, /readyz and the inbox 503; exit: stop with code 3.")
    termination_message_path: Path = Field(
        Path("/dev/termination-log"), description="Where exit writes the job's error.")
    # reliability
    shutdown_grace_seconds: float = Field(
        25, ge=0, description="How long running runs may take to finish after SIGTERM.")
    max_attempts: int = Field(1, ge=1, description="Attempts per run (1: no automatic retry).")
    retry_on: str = Field("failed,timed_out,crashed", description="Outcomes that are retried.")
    retry_backoff_seconds: float = Field(
        2, ge=0, description="The first retry's delay; doubles with each attempt.")
    retry_max_backoff_seconds: float = Field(
        300, ge=0, description="The longest delay between attempts.")
    idempotency_window_seconds: float = Field(
        86_400, ge=0, description="How long an Idempotency-Key is remembered.")
    max_queued: int = Field(10_000, ge=1, description="Waiting runs above which the inbox answers 429.")
    retention_days: float = Field(7, gt=0, description="Finished runs older than this are deleted.")
    retention_max_runs: int = Field(10_000, ge=1, description="At most this many runs are kept.")
    max_log_bytes: int = Field(1_048_576, ge=1024, description="A run log's cap; the tail is kept.")
    # observability
    log_job_output: bool = Field(False, description="Echo the job's output to stdout as JSON lines.")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        given = [self.job, self.job_path, self.workflow_path]
        if sum(value is not None for value in given) != 1:
            raise SettingsError("OSC_JOB, OSC_JOB_PATH or OSC_WORKFLOW_PATH: set exactly one")
        if self.workflow_path is not None:
            if self.adaptor is not None or self.credential is not None \
                    or self.credential_path is not None:
                raise SettingsError("OSC_WORKFLOW_PATH: a workflow names an adaptor and a "
                                    "credential per step; unset OSC_ADAPTOR and OSC_CREDENTIAL*")
        elif self.adaptor is None:
            raise SettingsError("OSC_ADAPTOR: required (the npm package of the job's adaptor)")
        elif match_adaptor(self.adaptor) is None:
            raise SettingsError(
                f"OSC_ADAPTOR: {shown(self.adaptor)} is not an npm package name (at most "
                f"{MAX_ADAPTOR_NAME} characters) with an optional version "
                "(e.g. @openfn/language-http@7.2.10)"
            )
        if self.credential is not None and self.credential_path is not None:
            raise SettingsError("OSC_CREDENTIAL or OSC_CREDENTIAL_PATH: set at most one")
        if self.database_url is not None and self.database_url_path is not None:
            raise SettingsError("OSC_DATABASE_URL or OSC_DATABASE_URL_PATH: set at most one")
        if self.auth is AuthMode.API_KEY and not (
            self.keys() or self.basic_auth_path is not None or self.signature is not None
        ):
            raise SettingsError(
                "OSC_API_KEYS or OSC_API_KEYS_PATH: at least one key is required, or another "
                "method (OSC_BASIC_AUTH_PATH, OSC_SIGNATURE), or set OSC_AUTH=none explicitly"
            )
        check_webhook_settings(self)
        return self

    # Derived values, read from files where the setting is a path.

    def job_code(self) -> str:
        if self.job is not None:
            return self.job
        return _read("OSC_JOB_PATH", self.job_path)

    @functools.cached_property
    def workflow(self) -> Plan | None:
        """The workflow plan, read and checked once; None for a single job."""
        if self.workflow_path is None:
            return None
        try:
            return load_plan(self.workflow_path)
        except PlanError as error:
            raise SettingsError(f"OSC_WORKFLOW_PATH: {error}") from None

    def adaptor_specs(self) -> list[str]:
        """Every adaptor to resolve: OSC_ADAPTOR, or each workflow step's."""
        return self.workflow.adaptors() if self.workflow is not None else [self.adaptor]

    def credentials_to_mask(self) -> Any:
        """Every credential whose values are masked: the job's, or every step's."""
        if self.workflow is not None:
            return self.workflow.credentials()
        return self.credential_value()

    def credential_value(self) -> Any:
        if self.credential is not None:
            raw, name = self.credential.get_secret_value(), "OSC_CREDENTIAL"
        elif self.credential_path is not None:
            raw, name = _read("OSC_CREDENTIAL_PATH", self.credential_path), "OSC_CREDENTIAL_PATH"
        else:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise SettingsError(f"{name}: the credential is not valid JSON") from None

    def database_url_value(self) -> str | None:
        """The PostgreSQL URL (None: the run store is the data dir's SQLite file)."""
        if self.database_url is not None:
            url = self.database_url.get_secret_value().strip()
        elif self.database_url_path is not None:
            url = _read("OSC_DATABASE_URL_PATH", self.database_url_path).strip()
        else:
            return None
        if not url.startswith(("postgresql://", "postgres://")):
            name = "OSC_DATABASE_URL" if self.database_url is not None else "OSC_DATABASE_URL_PATH"
            raise SettingsError(f"{name}: not a postgresql:// URL")
        return url

    def keys(self) -> list[str]:
        if self.api_keys is not None:
            raw = self.api_keys.get_secret_value().replace(",", "\n")
        elif self.api_keys_path is not None:
            raw = _read("OSC_API_KEYS_PATH", self.api_keys_path)
        else:
            return []
        return [key.strip() for key in raw.splitlines() if key.strip()]

    def api_key_scheme_list(self) -> list[str]:
        return [scheme.strip() for scheme in self.api_key_schemes.split(",") if scheme.strip()]

    def basic_auth_lines(self) -> list[str]:
        lines = _secret_lines("OSC_BASIC_AUTH_PATH", self.basic_auth_path)
        if not lines or any(":" not in line for line in lines):
            raise SettingsError("OSC_BASIC_AUTH_PATH: write one username:password per line")
        return lines

    def signature_secrets(self) -> list[str]:
        secrets = _secret_lines("OSC_SIGNATURE_SECRET_PATH", self.signature_secret_path)
        if not secrets:
            raise SettingsError("OSC_SIGNATURE_SECRET_PATH: at least one secret is required")
        return secrets

    def accept_body_text(self) -> str | None:
        if self.accept_body_path is not None:
            return _read("OSC_ACCEPT_BODY_PATH", self.accept_body_path)
        return self.accept_body

    def adaptor_name(self) -> str:
        """The adaptor's package name; a workflow's names, comma-separated."""
        return ", ".join(match_adaptor(spec)["name"] for spec in self.adaptor_specs())

    def adaptor_version(self) -> str | None:
        return match_adaptor(self.adaptor)["version"] if self.adaptor else None

    def retried_outcomes(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.retry_on.split(",") if part.strip())


def match_adaptor(spec: str) -> re.Match | None:
    """The parts of an OSC_ADAPTOR value, or None when it is not a package spec."""
    # The length first: the pattern is not meant for, nor fast on, thousands of characters,
    # and a name longer than npm allows would end as a file name too long for the disk.
    if len(spec) > MAX_ADAPTOR_SPEC:
        return None
    match = ADAPTOR_PATTERN.fullmatch(spec)
    return match if match and len(match["name"]) <= MAX_ADAPTOR_NAME else None


def shown(value: object, limit: int = 80) -> str:
    """A setting's value for an error message: quoted, and cut when it is long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


def _secret_lines(variable: str, path: Path | None) -> list[str]:
    if path is None:
        return []
    return [line.strip() for line in _read(variable, path).splitlines() if line.strip()]


def check_webhook_settings(settings: Settings) -> None:
    """The webhook settings that need more than a type: each error names its variable."""
    from osc_runtime.auth.signature import parse_signature
    from osc_runtime.idempotency import parse_idempotency_from

    checks = [("OSC_SIGNATURE", settings.signature, parse_signature),
              ("OSC_IDEMPOTENCY_FROM", settings.idempotency_from, parse_idempotency_from)]
    for variable, value, parse in checks:
        try:
            if value is not None:
                parse(value)
        except ValueError as error:
            raise SettingsError(f"{variable}: {error}") from None
    if settings.signature is not None and settings.signature_secret_path is None:
        raise SettingsError("OSC_SIGNATURE_SECRET_PATH: required with OSC_SIGNATURE")
    if settings.api_key_query_param is not None and not settings.keys():
        raise SettingsError("OSC_API_KEY_QUERY_PARAM: needs OSC_API_KEYS or OSC_API_KEYS_PATH")
    if settings.accept_body is not None and settings.accept_body_path is not None:
        raise SettingsError("OSC_ACCEPT_BODY or OSC_ACCEPT_BODY_PATH: set at most one")
    has_body = settings.accept_body is not None or settings.accept_body_path is not None
    if has_body != (settings.accept_content_type is not None):
        raise SettingsError("OSC_ACCEPT_CONTENT_TYPE: set it with OSC_ACCEPT_BODY(_PATH), "
                            "and only then")


def _read(variable: str, path: Path | None) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{variable}: cannot read {shown(str(path))}: {error.strerror or error}") from None


def load(**overrides: Any) -> Settings:
    """Read the settings from the environment; raise SettingsError naming the variable."""
    try:
        settings = Settings(**overrides)
        if settings.workflow_path is None:
            settings.job_code()
        settings.workflow  # noqa: B018 (reads and checks the plan once)
        settings.credential_value()
        settings.keys()
        if settings.basic_auth_path is not None:
            settings.basic_auth_lines()
        if settings.signature is not None:
            settings.signature_secrets()
        settings.accept_body_text()
        return settings
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    if first["type"] == "value_error" and isinstance(first.get("ctx", {}).get("error"), SettingsError):
        return str(first["ctx"]["error"])
    field = "_".join(str(part) for part in first["loc"]) or "settings"
    return f"OSC_{field.upper()}: {first['msg']}"
