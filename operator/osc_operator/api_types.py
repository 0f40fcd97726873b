"""The building blocks of the OpenFnJob models: the base model, Secret/ConfigMap key
references, and the one-of rule both the CRD (CEL) and the operator check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CONFIG_KEY = r"^[-._a-zA-Z0-9]+$"
# An npm package name (`name` or `@scope/name`) with an optional `@version` or range. The same
# language as the runtime's OSC_ADAPTOR check, written without named groups so that both
# Kubernetes (RE2) and Python accept it: no paths, URLs, git specs or shell metacharacters.
ADAPTOR_PATTERN = (
    r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*"
    r"(@[0-9xX*^~<>=|. -]*[0-9xX*][0-9A-Za-z.+xX*^~<>=| -]*)?$"
)


def exactly_one_of(*fields: str) -> dict[str, str]:
    """A CEL rule (x-kubernetes-validations) that exactly one of `fields` is set."""
    checks = ", ".join(f"has(self.{field})" for field in fields)
    names = ", ".join(fields)
    return {"rule": f"[{checks}].exists_one(x, x)", "message": f"set exactly one of: {names}"}


def set_exactly_one(model: BaseModel, *fields: str) -> None:
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
