"""API-server pieces of the test emulator (see emulator.py): errors, patches, watch log, tables."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
import datetime
import re
from collections.abc import AsyncIterator
from typing import Any

import jsonpatch
from kmock._internal.dicts import merge_patch_dict


class ApiError(Exception):
    """An API error answered as a `Status` with a standard reason (NotFound, Invalid, …)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status_body(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                "code": self.code, "reason": self.reason, "message": self.message}


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_patch(old: dict[str, Any], patch: Any, content_type: str, method: str) -> dict[str, Any]:
    """Apply a JSON merge patch, a json-patch, or (PUT) a replacement, as an API server would."""
    base = copy.deepcopy(old)
    if method == "PUT":
        sent = (patch or {}).get("metadata", {}).get("resourceVersion")
        if sent and sent != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        return dict(patch or {})
    if "json-patch" in content_type:
        if not isinstance(patch, list):
            raise ApiError(400, "BadRequest", "a json-patch must be a list of operations")
        try:
            return jsonpatch.apply_patch(base, patch)
        except jsonpatch.JsonPatchTestFailed as error:
            raise ApiError(422, "Invalid", f"the json-patch test failed: {error}") from None
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
            raise ApiError(422, "Invalid", f"the json-patch cannot be applied: {error}") from None
    if not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
    try:
        return dict(merge_patch_dict(base, patch))
    except ValueError as error:
        raise ApiError(422, "Invalid", str(error)) from None


class EventLog:
    """Every write, in order, with its resourceVersion: watches replay from any version.

    Keeping the whole log (tests are short) is what makes `?resourceVersion=` honest and
    loses no event between a watch's replay and its live part.
    """

    def __init__(self) -> None:
        self.version = 0
        self.entries: list[tuple[int, tuple[Any, ...], str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    def next(self) -> int:
        self.version += 1
        return self.version

    async def append(self, key: tuple[Any, ...], kind: str, obj: dict[str, Any]) -> None:
        self.entries.append((self.version, key, kind, copy.deepcopy(obj)))
        async with self._changed:
            self._changed.notify_all()

    async def follow(self, after: int) -> AsyncIterator[tuple[tuple[Any, ...], str, dict]]:
        index = next((i for i, entry in enumerate(self.entries) if entry[0] > after),
                     len(self.entries))
        while True:
            while index < len(self.entries):
                _, key, kind, obj = self.entries[index]
                index += 1
                yield key, kind, obj
            async with self._changed:
                if index >= len(self.entries):
                    await self._changed.wait()


def table(body: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    """The Table `kubectl get` asks for, with a CRD's printer columns (NAME, AGE otherwise)."""
    items = body["items"] if "items" in body else [body]
    columns = columns or [{"name": "Age", "type": "date",
                           "jsonPath": ".metadata.creationTimestamp"}]
    definitions = [{"name": "Name", "type": "string", "format": "name", "priority": 0,
                    "description": "Name of the object"}]
    definitions += [{"name": column["name"], "type": column["type"], "format": "",
                     "priority": column.get("priority", 0),
                     "description": column.get("description", "")} for column in columns]
    rows = [{"cells": [item["metadata"]["name"]] + [_cell(item, column) for column in columns],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": item["metadata"]}} for item in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": body.get("metadata", {}).get("resourceVersion", "")},
            "columnDefinitions": definitions, "rows": rows}


def _cell(item: dict[str, Any], column: dict[str, Any]) -> Any:
    value = json_path(item, column["jsonPath"])
    if column["type"] == "date" and value:
        return _age(value)
    return value


FILTER = re.compile(r'^(\w+)\[\?\(@\.(\w+)=="([^"]*)"\)\]$')
STEP = re.compile(r'\w+\[\?\(@\.\w+=="[^"]*"\)\]|\w+')


def json_path(item: Any, path: str) -> Any:
    """The JSONPath subset printer columns use: `.a.b` and `.list[?(@.key=="value")].field`."""
    value = item
    for part in STEP.findall(path):
        match = FILTER.match(part)
        if match:
            name, key, expected = match.groups()
            found = [entry for entry in (value or {}).get(name, []) if entry.get(key) == expected]
            value = found[0] if found else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def _age(timestamp: str) -> str:
    then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC)
    seconds = int((datetime.datetime.now(datetime.UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def fold_string_data(body: dict[str, Any]) -> None:
    """As an API server does for Secrets: `stringData` is stored base64-encoded in `data`."""
    if body.get("kind") == "Secret" and body.get("stringData"):
        encoded = {key: base64.b64encode(str(value).encode()).decode()
                   for key, value in body.pop("stringData").items()}
        body["data"] = {**(body.get("data") or {}), **encoded}


async def send(response: Any, kind: str, obj: dict[str, Any]) -> None:
    await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")


def selected(obj: dict[str, Any], params: dict[str, str]) -> bool:
    """Equality-only label and field selectors (all that kopf and our tests send)."""
    meta = obj.get("metadata", {})
    for term in filter(None, params.get("labelSelector", "").split(",")):
        label, _, value = term.partition("=")
        if meta.get("labels", {}).get(label) != value.lstrip("="):
            return False
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
    for term in filter(None, params.get("fieldSelector", "").split(",")):
        field, _, value = term.partition("=")
        if fields.get(field) != value.lstrip("="):
            return False
    return True


def api_version(res: Any) -> str:
    return f"{res.group}/{res.version}" if res.group else res.version


def uid() -> str:
    return str(uuid.uuid4())
