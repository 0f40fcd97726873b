"""The webhook settings of an OpenFnJob as the runtime reads them: OSC_* values and the
Secret files (mounted read-only; their checksums roll the pods when a Secret changes).

Pure functions, as in `render.py`, which calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from osc_operator.api import OpenFnJobSpec, WebhookTrigger
from osc_operator.api_types import KeyRef

BASIC_DIR, BASIC_FILE = "/etc/osc/basic-auth", "users"
SIGNATURE_DIR, SIGNATURE_FILE = "/etc/osc/signature", "secrets"
DATABASE_DIR, DATABASE_FILE = "/etc/osc/database", "url"


@dataclass(frozen=True)
class SecretFile:
    """One Secret key the runtime reads as a file."""

    volume: str  # also the checksum annotation's name
    directory: str
    file: str
    ref: KeyRef
    field: str  # the spec field naming it, for a missing-Secret message


def secret_files(spec: OpenFnJobSpec) -> list[SecretFile]:
    auth = spec.trigger.webhook.auth if spec.trigger.webhook else None
    files = []
    if spec.storage is not None and spec.storage.postgres is not None:  # the run store's URL
        files.append(SecretFile("database-url", DATABASE_DIR, DATABASE_FILE,
                                spec.storage.postgres.url_secret_ref,
                                "spec.storage.postgres.urlSecretRef"))
    if auth is not None and auth.basic is not None:
        files.append(SecretFile("basic-auth", BASIC_DIR, BASIC_FILE, auth.basic.secret_ref,
                                "spec.trigger.webhook.auth.basic.secretRef"))
    if auth is not None and auth.signature is not None:
        files.append(SecretFile("signature", SIGNATURE_DIR, SIGNATURE_FILE,
                                auth.signature.secret_ref,
                                "spec.trigger.webhook.auth.signature.secretRef"))
    return files


def webhook_env(webhook: WebhookTrigger | None) -> dict[str, str]:
    """OSC_* values for the methods, deduplication and accept answer (no secret among them)."""
    if webhook is None:
        return {}
    env: dict[str, str] = {}
    auth = webhook.auth
    api_key = auth.api_key if auth else None
    if api_key is not None and api_key.schemes:
        env["OSC_API_KEY_SCHEMES"] = ",".join(api_key.schemes)
    if api_key is not None and api_key.header:
        env["OSC_API_KEY_HEADER"] = api_key.header
    if auth is not None and auth.query_param is not None:
        env["OSC_API_KEY_QUERY_PARAM"] = auth.query_param.name
    if auth is not None and auth.basic is not None:
        env["OSC_BASIC_AUTH_PATH"] = f"{BASIC_DIR}/{BASIC_FILE}"
    if auth is not None and auth.signature is not None:
        env["OSC_SIGNATURE"] = auth.signature.setting()
        env["OSC_SIGNATURE_SECRET_PATH"] = f"{SIGNATURE_DIR}/{SIGNATURE_FILE}"
    if webhook.idempotency_from is not None:
        env["OSC_IDEMPOTENCY_FROM"] = webhook.idempotency_from
    reply = webhook.accept_reply
    if reply is not None and reply.status is not None:
        env["OSC_ACCEPT_STATUS"] = str(reply.status)
    if reply is not None and reply.body is not None:
        env["OSC_ACCEPT_CONTENT_TYPE"] = reply.content_type
        env["OSC_ACCEPT_BODY"] = reply.body
    return env


def api_key_secret_ref(webhook: WebhookTrigger | None) -> KeyRef | None:
    """The user's own API key Secret, named by authSecretRef or auth.apiKey.secretRef."""
    if webhook is None:
        return None
    api_key = webhook.auth.api_key if webhook.auth else None
    return webhook.auth_secret_ref or (api_key.secret_ref if api_key else None)


def referenced_secrets(spec: dict[str, Any]) -> list[str]:
    """Names of the Secrets an unvalidated spec's webhook auth and run store read (for the
    Secret watch)."""
    webhook = (spec.get("trigger") or {}).get("webhook") or {}
    auth = webhook.get("auth") or {}
    refs = [webhook.get("authSecretRef"), (auth.get("apiKey") or {}).get("secretRef"),
            (auth.get("basic") or {}).get("secretRef"),
            (auth.get("signature") or {}).get("secretRef"),
            ((spec.get("storage") or {}).get("postgres") or {}).get("urlSecretRef")]
    return [ref["name"] for ref in refs if isinstance(ref, dict) and ref.get("name")]

