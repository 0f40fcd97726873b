"""The runtime's configuration: the OSC_* environment variables.

These variables are the contract between the runtime and whoever starts it: the operator's
Deployment, the Helm chart, a baked image or `make run`. Each one is documented in the README.
A missing or invalid setting stops start-up with one line naming the variable (see `load`).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# `@scope/name` or `name`, optionally `@<semver version or range>`: no paths, URLs, git specs or
# shell metacharacters (a range may hold spaces, `|`, `<`, `>`, `=`, `^`, `~`, `*`, `x`, `-`, `.`).
ADAPTOR_PATTERN = re.compile(
    r"^(?P<name>(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*)"
    r"(@(?P<version>[0-9xX*^~<>=|. -]*[0-9xX*][0-9A-Za-z.+xX*^~<>=| -]*))?$"
)
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
    job_name: str = Field("job", description="The job's name, shown in logs and the console.")
    adaptor: str = Field(description="npm package of the adaptor, optionally @version or range.")
    trigger: str = Field("webhook", description="How runs arrive, shown in the console.")
    # the credential: JSON, becomes state.configuration
    credential: SecretStr | None = Field(None, description="The credential JSON inline.")
    credential_path: Path | None = Field(None, description="A file holding the credential JSON.")
    # who may call
    auth: AuthMode = AuthMode.API_KEY
    api_keys: SecretStr | None = Field(None, description="Comma-separated API keys.")
    api_keys_path: Path | None = Field(None, description="A file of API keys, one per line.")
    # serving
    data_dir: Path = Path("/var/lib/osc")
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=1, le=65535)
    concurrency: int = Field(2, ge=1, le=256)
    run_timeout_seconds: float = Field(300, gt=0)
    max_body_bytes: int = Field(1_048_576, ge=1)
    endpoint_style: EndpointStyle = EndpointStyle.ASYNC
    sync_wait_seconds: float = Field(30, gt=0, description="How long ?sync=true waits.")
    # the engine and the node side
    engine: EngineKind = EngineKind.CORE
    node_modules: Path = Field(DEFAULT_NODE_MODULES, description="Where core and adaptors are.")
    node_binary: str = "node"
    adaptors_dir: Path | None = Field(None, description="Where missing adaptors are installed.")
    adaptor_install: AdaptorInstall = AdaptorInstall.IF_MISSING
    npm_registry: str | None = None
    npmrc_path: Path | None = None
    # a job that does not compile: stay up and say so (503), or exit (the operator's pods)
    on_invalid_job: Literal["serve", "exit"] = "serve"
    termination_message_path: Path = Path("/dev/termination-log")
    # reliability
    shutdown_grace_seconds: float = Field(25, ge=0)
    max_attempts: int = Field(1, ge=1)
    retry_on: str = Field("failed,timed_out,crashed", description="Outcomes that are retried.")
    retry_backoff_seconds: float = Field(2, ge=0)
    retry_max_backoff_seconds: float = Field(300, ge=0)
    idempotency_window_seconds: float = Field(86_400, ge=0)
    max_queued: int = Field(10_000, ge=1)
    retention_days: float = Field(7, gt=0)
    retention_max_runs: int = Field(10_000, ge=1)
    max_log_bytes: int = Field(1_048_576, ge=1024)
    # observability
    log_job_output: bool = False

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if (self.job is None) == (self.job_path is None):
            raise SettingsError("OSC_JOB or OSC_JOB_PATH: set exactly one")
        if not ADAPTOR_PATTERN.fullmatch(self.adaptor):
            raise SettingsError(
                f"OSC_ADAPTOR: {self.adaptor!r} is not an npm package name with an optional "
                "version (e.g. @openfn/language-http@7.2.10)"
            )
        if self.credential is not None and self.credential_path is not None:
            raise SettingsError("OSC_CREDENTIAL or OSC_CREDENTIAL_PATH: set at most one")
        if self.auth is AuthMode.API_KEY and not self.keys():
            raise SettingsError(
                "OSC_API_KEYS or OSC_API_KEYS_PATH: at least one key is required "
                "(or set OSC_AUTH=none explicitly)"
            )
        return self

    # Derived values, read from files where the setting is a path.

    def job_code(self) -> str:
        if self.job is not None:
            return self.job
        return _read("OSC_JOB_PATH", self.job_path)

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

    def keys(self) -> list[str]:
        if self.api_keys is not None:
            raw = self.api_keys.get_secret_value().replace(",", "\n")
        elif self.api_keys_path is not None:
            raw = _read("OSC_API_KEYS_PATH", self.api_keys_path)
        else:
            return []
        return [key.strip() for key in raw.splitlines() if key.strip()]

    def adaptor_name(self) -> str:
        return ADAPTOR_PATTERN.fullmatch(self.adaptor)["name"]

    def adaptor_version(self) -> str | None:
        return ADAPTOR_PATTERN.fullmatch(self.adaptor)["version"]

    def retried_outcomes(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.retry_on.split(",") if part.strip())


def _read(variable: str, path: Path | None) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{variable}: cannot read {path}: {error}") from None


def load(**overrides: Any) -> Settings:
    """Read the settings from the environment; raise SettingsError naming the variable."""
    try:
        settings = Settings(**overrides)
        settings.job_code()
        settings.credential_value()
        settings.keys()
        return settings
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    if first["type"] == "value_error" and isinstance(first.get("ctx", {}).get("error"), SettingsError):
        return str(first["ctx"]["error"])
    field = "_".join(str(part) for part in first["loc"]) or "settings"
    return f"OSC_{field.upper()}: {first['msg']}"
