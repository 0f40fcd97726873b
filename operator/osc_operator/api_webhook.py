"""How senders authenticate to a webhook job, and the answer they get: the models of
`spec.trigger.webhook.auth` and `acceptReply` (see `api.py` for the rest of OpenFnJob).

Each method maps onto a runtime setting (OSC_API_KEY_SCHEMES, OSC_BASIC_AUTH_PATH,
OSC_API_KEY_QUERY_PARAM, OSC_SIGNATURE…); `webhook_render.py` turns them into env and files.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from osc_operator.api_types import KeyRef, Model, exactly_one_of, set_exactly_one

# An HTTP header name (RFC 9110 token) and a URL query parameter name.
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"
QUERY_PARAM = r"^[A-Za-z0-9._~-]{1,64}$"
# A dotted JSON path as OSC_FILTER takes it (`$._uuid`, `data.items[0].id`).
_PATH_STEP = r"([^.\[\]\s$]+(\[[0-9]+\])*|(\[[0-9]+\])+)"
IDEMPOTENCY_FROM_PATTERN = (rf"^(header:[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,128}}|"
                            rf"json:(\$\.?)?{_PATH_STEP}(\.{_PATH_STEP})*)$")
SIGNATURE_PRESET_ALONE = {
    "rule": "!has(self.preset) || (!has(self.algorithm) && !has(self.encoding) && "
            "!has(self.prefix))",
    "message": "a preset fixes the algorithm, encoding and prefix: set them only with header"}
ONE_API_KEY_SECRET = {
    "rule": "!has(self.authSecretRef) || !has(self.auth) || !has(self.auth.apiKey) || "
            "!has(self.auth.apiKey.secretRef)",
    "message": "set the API key Secret once: authSecretRef or auth.apiKey.secretRef"}
BODY_WITH_CONTENT_TYPE = {"rule": "has(self.body) == has(self.contentType)",
                          "message": "set body and contentType together"}


class ApiKeyAuth(Model):
    secret_ref: KeyRef | None = Field(
        None, description="A key of your own Secret holding the inbox API key (or several, one "
        "per line). Without it the operator generates a random key in the Secret "
        "`<name>-inbox` (key `api-key`). The key always works, for the runs API too.")
    schemes: list[Annotated[str, Field(pattern=HEADER_NAME)]] | None = Field(
        None, min_length=1, max_length=10, description="`Authorization` schemes that carry the "
        "key, e.g. `[Bearer, ApiToken]` for DHIS2 (`Authorization: ApiToken <key>`); default "
        "`[Bearer]`.")
    header: str | None = Field(None, pattern=HEADER_NAME, description="The header that carries "
                               "the key; default `X-API-Key`.")


class QueryParamAuth(Model):
    name: str = Field(pattern=QUERY_PARAM, description="A query parameter that may carry the "
                      "API key (`?<name>=<key>`), for senders that can only be given a URL "
                      "(some DHIS2 routes, Salesforce outbound messages). Its value is masked "
                      "in the access log and never reaches the job.")


class BasicAuth(Model):
    secret_ref: KeyRef = Field(description="A key of a Secret holding `username:password` "
                               "lines, one per sender (KoboToolbox, CommCare HQ). Mounted "
                               "read-only as a file.")


class SignaturePreset(StrEnum):
    GITHUB = "github"
    SHOPIFY = "shopify"
    STRIPE = "stripe"


class SignatureAuth(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        exactly_one_of("preset", "header"), SIGNATURE_PRESET_ALONE]})

    preset: SignaturePreset | None = Field(
        None, description="github (`X-Hub-Signature-256: sha256=<hex>`), shopify "
        "(`X-Shopify-Hmac-Sha256: <base64>`) or stripe (`Stripe-Signature: t=…,v1=…`, "
        "refused when older than 300 s).")
    header: str | None = Field(None, pattern=HEADER_NAME, description="Instead of a preset: "
                               "the header holding an HMAC of the raw body.")
    algorithm: Literal["sha1", "sha256", "sha512"] | None = Field(
        None, description="The HMAC's hash (with header); default sha256.")
    encoding: Literal["hex", "base64"] | None = Field(
        None, description="How the header writes the HMAC (with header); default hex.")
    prefix: str | None = Field(None, max_length=64, pattern=r"^[\x21-\x7e]+$",
                               description="Text before the HMAC in the header, e.g. `sha256=`.")
    secret_ref: KeyRef = Field(description="A key of a Secret holding the signing secret, or "
                               "several, one per line (add the new one, switch the sender, "
                               "remove the old one). Mounted read-only as a file.")

    @model_validator(mode="after")
    def _preset_or_parameters(self) -> SignatureAuth:
        set_exactly_one(self, "preset", "header")
        if self.preset and (self.algorithm or self.encoding or self.prefix):
            raise ValueError(SIGNATURE_PRESET_ALONE["message"])
        return self

    def setting(self) -> str:
        """OSC_SIGNATURE: the preset, or `hmac:<header>:<algorithm>:<encoding>[:<prefix>]`."""
        if self.preset is not None:
            return str(self.preset)
        parts = ["hmac", self.header, self.algorithm or "sha256", self.encoding or "hex"]
        return ":".join(parts + ([self.prefix] if self.prefix else []))


class WebhookAuth(Model):
    api_key: ApiKeyAuth | None = Field(None, description="The inbox API key (always on; "
                                       "generated when no Secret is named) and where it may "
                                       "be sent.")
    basic: BasicAuth | None = Field(None, description="HTTP Basic authentication.")
    query_param: QueryParamAuth | None = Field(None, description="The API key in a query "
                                               "parameter.")
    signature: SignatureAuth | None = Field(None, description="HMAC-signed deliveries, "
                                            "checked over the raw body.")


class AcceptReply(Model):
    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [BODY_WITH_CONTENT_TYPE]})

    status: int | None = Field(None, ge=200, le=299, description="Status of the answer to an "
                               "accepted (or repeated) delivery; default 202.")
    content_type: str | None = Field(None, min_length=1, max_length=255,
                                     description="Content type of body.")
    body: str | None = Field(None, max_length=65536, description="A fixed answer instead of the "
                             "run as JSON, e.g. Salesforce's SOAP `<Ack>true</Ack>` envelope.")

    @model_validator(mode="after")
    def _body_with_type(self) -> AcceptReply:
        if (self.body is None) != (self.content_type is None):
            raise ValueError(BODY_WITH_CONTENT_TYPE["message"])
        return self


