"""The manifests an import writes: OpenFnJobs, credential Secrets and Secret stubs, and the
names they get (Kubernetes names from OpenFn's free-form ones)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from osc_operator import api
from osc_operator.reconcile import MAX_NAME_LENGTH

CREDENTIAL_KEY = "credential.json"
SECRET_FILE_MODE = 0o600  # a file of credential values: its owner's only


@dataclass
class Output:
    file: str  # relative to the output folder
    documents: list[dict[str, Any]]
    comment: str = ""  # written above the documents (`#` lines)
    private: bool = False  # holds credential values
    summary: str = ""


@dataclass
class Names:
    """Unique DNS-label names, made from OpenFn names (`Fetch patients` → `fetch-patients`)."""

    limit: int = MAX_NAME_LENGTH
    taken: set[str] = field(default_factory=set)

    def make(self, text: str, fallback: str = "job") -> str:
        base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[: self.limit]
        base = base.strip("-") or fallback
        if not base[0].isalpha():
            base = f"{fallback}-{base}"[: self.limit].strip("-")
        name, number = base, 2
        while name in self.taken:
            suffix = f"-{number}"
            name, number = base[: self.limit - len(suffix)].strip("-") + suffix, number + 1
        self.taken.add(name)
        return name


def openfnjob(name: str, namespace: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND, "metadata": metadata,
            "spec": spec}


def secret(name: str, namespace: str | None, values: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata,
            "stringData": {CREDENTIAL_KEY: json.dumps(values, indent=2, sort_keys=True)}}


def credential_ref(name: str) -> dict[str, Any]:
    return {"secretRef": {"name": name, "key": CREDENTIAL_KEY}}


def credential_shown(credential: Any) -> str:
    """A job's `credential` for the terminal: its name, never values written in its place."""
    return repr(credential) if isinstance(credential, str) else "(values, not a name)"


def adaptor_spec(adaptor: Any) -> str | None:
    """An OpenFn adaptor as osc names it: `@latest` (a tag) is no version at all, which
    takes the runtime's bundled version or npm's latest. None when it is no package spec."""
    text = str(adaptor or "").strip()
    if text.endswith("@latest"):
        text = text[: -len("@latest")]
    return text if text and re.match(api.ADAPTOR_PATTERN, text) else None


class _Dumper(yaml.SafeDumper):
    """Job expressions as literal blocks (`job: |`), readable and diffable as code."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def write(folder: Path, outputs: list[Output]) -> list[str]:
    """Write every output; return `path: summary` lines (never a value)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for output in outputs:
        path = folder / output.file
        text = "".join(f"# {line}\n" if line else "#\n" for line in output.comment.splitlines())
        text += yaml.dump_all(output.documents, Dumper=_Dumper, sort_keys=False, width=100)
        if output.private:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
            os.fchmod(descriptor, SECRET_FILE_MODE)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
        else:
            path.write_text(text, encoding="utf-8")
        written.append(f"{path}: {output.summary}")
    return written
