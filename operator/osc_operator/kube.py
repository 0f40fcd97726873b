"""The Kubernetes calls: read, create-or-patch children, read referenced data, write status.

A thin JSON client over the `kubernetes` package's authenticated REST layer (in-cluster
service account, or KUBECONFIG outside a cluster). Every call sends an explicit content type:
the client would send a plain dict PATCH body as json-patch otherwise.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import urllib.parse
from decimal import Decimal, InvalidOperation
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from osc_operator import api

PLURALS = {"ConfigMap": "configmaps", "Secret": "secrets", "Service": "services",
           "Deployment": "deployments", "CronJob": "cronjobs", api.KIND: api.PLURAL,
           "PersistentVolumeClaim": "persistentvolumeclaims",
           "NetworkPolicy": "networkpolicies", "PodDisruptionBudget": "poddisruptionbudgets",
           "HorizontalPodAutoscaler": "horizontalpodautoscalers",
           "ScaledObject": "scaledobjects", "TriggerAuthentication": "triggerauthentications"}
MERGE_PATCH = "application/merge-patch+json"
OWN_ANNOTATION = "osc.openfn.org/"
# Optional map fields we render only sometimes: a merge patch keeps what it does not mention,
# so when the spec drops one, the patch must remove it (lists are replaced whole anyway).
# (A left-over `initContainers` would keep the adaptor init container, whose volume is gone:
# the API server refuses such a Deployment with 422.)
OPTIONAL_FIELDS = {"CronJob": [("spec", "timeZone"), ("spec", "startingDeadlineSeconds")],
                   "Deployment": [("spec", "strategy", "rollingUpdate"),  # not with Recreate
                                  ("spec", "template", "spec", "initContainers")]}


class KubeError(Exception):
    """A Kubernetes call failed with `status` (404, 409, 422, …)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Kube:
    """JSON in, JSON out; errors as KubeError."""

    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self.client = client

    @classmethod
    def connect(cls) -> Kube:
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()
        return cls(kubernetes.client.ApiClient())

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method, url, headers, body, _ = self.client.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"])
        try:
            response = self.client.call_api(method, url, header_params=headers, body=body,
                                            _request_timeout=30)
        except ApiException as error:
            raise KubeError(error.status or 0, str(error.reason)) from None
        data = response.read()
        if not 200 <= response.status < 300:
            raise KubeError(response.status, _message(data))
        return json.loads(data) if data else {}

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise


def _message(data: bytes) -> str:
    try:
        return json.loads(data).get("message", "")
    except ValueError:
        return data[:200].decode(errors="replace")


def path_of(manifest: dict[str, Any], *, collection: bool = False) -> str:
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    return object_path(api_version, PLURALS[kind], manifest["metadata"]["namespace"],
                       None if collection else manifest["metadata"]["name"])


def object_path(api_version: str, plural: str, namespace: str, name: str | None = None,
                subresource: str | None = None) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}"
    return path + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")


def apply(kube: Kube, desired: dict[str, Any], *,
          create_first: bool = False) -> tuple[str, dict[str, Any]]:
    """Create `desired` or patch the live object to match it: ("created" | "updated" |
    "unchanged", the object as the API server now has it). Idempotent: a second call with the
    same manifest changes nothing. `create_first`: the object most likely does not exist yet
    (its owner is new), so POST without reading first; a conflict falls back to the read."""
    live = None if create_first else kube.get(path_of(desired))
    if live is None:
        try:
            return "created", kube.request("POST", path_of(desired, collection=True), desired)
        except KubeError as error:
            if error.status != 409:
                raise
            live = kube.get(path_of(desired)) or {}
    refuse_foreign(live, desired)
    # A ConfigMap's or Secret's keys we no longer write must go (a merge patch keeps them).
    stale = ([key for key in live.get("data") or {} if key not in desired.get("data", {})]
             if desired["kind"] in ("ConfigMap", "Secret") else [])
    if not stale and contains(live, desired):
        return "unchanged", live
    patch = json.loads(json.dumps(desired))
    _drop_stale_annotations(patch, live)
    if stale:
        patch.setdefault("data", {}).update(dict.fromkeys(stale))
    for *parents, key in OPTIONAL_FIELDS.get(desired["kind"], []):
        live_parent, patch_parent = live, patch
        for part in parents:
            live_parent, patch_parent = live_parent.get(part) or {}, patch_parent.setdefault(
                part, {})
        if key in live_parent and key not in patch_parent:
            patch_parent[key] = None
    return "updated", kube.request("PATCH", path_of(desired), patch, MERGE_PATCH)


def refuse_foreign(live: dict[str, Any], desired: dict[str, Any]) -> None:
    """Never take over an object someone else made: its controller must be our owner."""
    wanted = [ref["uid"] for ref in desired["metadata"].get("ownerReferences") or []]
    have = [ref.get("uid") for ref in live.get("metadata", {}).get("ownerReferences") or []
            if ref.get("controller")]
    if wanted and have != wanted[:1]:
        owner = desired["metadata"]["ownerReferences"][0]
        raise KubeError(409, f"{desired['kind']} {desired['metadata']['name']} already exists "
                        f"and is not managed by {owner['kind']} {owner['name']}: rename or "
                        "delete it")


def contains(live: Any, desired: Any, quantities: bool = False) -> bool:
    """Whether every field of `desired` is already in `live` (lists must match item by item).
    The values of `limits` and `requests` maps are quantities, which the API server rewrites
    in canonical form (`1` → `"1"`, `"0.5Gi"` → `"512Mi"`): they compare by value."""
    if isinstance(desired, dict):
        if not desired and live is None:
            return True  # an empty map is not stored (a Secret with no data has no `data`)
        if quantities:
            return isinstance(live, dict) and all(
                same_quantity(live.get(key), value) for key, value in desired.items())
        return isinstance(live, dict) and all(
            contains(live.get(key), value, key in QUANTITY_MAPS)
            for key, value in desired.items())
    if isinstance(desired, list):
        return (isinstance(live, list) and len(live) == len(desired)
                and all(contains(a, b) for a, b in zip(live, desired)))
    return live == desired


QUANTITY_MAPS = ("limits", "requests")  # resources of containers, and of claims
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|Ki)?$")
_SUFFIXES = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def same_quantity(live: Any, desired: Any) -> bool:
    """Whether two Kubernetes quantities are equal in value (else whether they are equal)."""
    if live == desired:
        return True
    a, b = _quantity_value(live), _quantity_value(desired)
    return a is not None and a == b


def _quantity_value(quantity: Any) -> Decimal | None:
    match = _QUANTITY.match(str(quantity)) if isinstance(quantity, (str, int)) else None
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIXES[suffix]
    except (InvalidOperation, KeyError):
        return None


def _drop_stale_annotations(patch: dict[str, Any], live: dict[str, Any]) -> None:
    """A merge patch keeps map keys it does not mention: remove our own stale checksums."""
    template = patch.get("spec", {}).get("template", {}).get("metadata")
    if template is None:
        return
    live_annotations = (live.get("spec", {}).get("template", {}).get("metadata", {})
                        .get("annotations") or {})
    wanted = template.setdefault("annotations", {})
    for key in live_annotations:
        if key.startswith(OWN_ANNOTATION) and key not in wanted:
            wanted[key] = None


def read_key(kube: Kube, kind: str, namespace: str, name: str, key: str) -> str | None:
    """The value of `key` in a Secret (decoded) or ConfigMap; None when either is missing."""
    plural = PLURALS[kind]
    obj = kube.get(object_path("v1", plural, namespace, name))
    if obj is None:
        return None
    if kind == "Secret":
        return secret_value(obj, key)
    return (obj.get("data") or {}).get(key)


def secret_value(secret: dict[str, Any], key: str) -> str | None:
    """The decoded value of `key` in a Secret as the API server returns it."""
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return (secret.get("stringData") or {}).get(key)
    return base64.b64decode(raw).decode("utf-8", errors="replace")


def pods_of(client: Kube, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
    """The pods matching `selector`; none when they cannot be read (pods are read only to
    explain a failure: a reconcile never fails on them)."""
    labels = ",".join(f"{key}={value}" for key, value in selector.items())
    query = urllib.parse.urlencode({"labelSelector": labels})
    try:
        pods = client.request("GET", f"/api/v1/namespaces/{namespace}/pods?{query}")
    except KubeError:
        return []
    return pods.get("items") or []


def get_job(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get(object_path(f"{api.GROUP}/{api.VERSION}", api.PLURAL, namespace, name))


def get_deployment(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get(object_path("apps/v1", "deployments", namespace, name))


def delete(kube: Kube, api_version: str, plural: str, namespace: str, name: str) -> bool:
    try:
        kube.request("DELETE", object_path(api_version, plural, namespace, name))
        return True
    except KubeError as error:
        if error.status == 404:
            return False
        raise


def deployment_available(deployment: dict[str, Any] | None) -> bool:
    """Available, and for the Deployment's current spec (not an older rollout)."""
    if not deployment:
        return False
    status = deployment.get("status") or {}
    wanted = deployment.get("spec", {}).get("replicas", 1)
    current = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 1)
    available = any(c.get("type") == "Available" and c.get("status") == "True"
                    for c in status.get("conditions") or [])
    return current and available and status.get("updatedReplicas", 0) >= wanted \
        and status.get("availableReplicas", 0) >= wanted


def status_conditions(status: str, reason: str, message: str, generation: int,
                      previous: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Ready, plus kstatus' abnormal-true conditions while they hold: Reconciling (work in
    progress) or Stalled (blocked until someone changes something). kstatus (kubectl wait,
    Flux, Argo CD) then reads a job as Current, InProgress or Failed."""
    conditions = [condition("Ready", status, reason, message, generation, previous)]
    if status != "True":
        kind = "Reconciling" if reason in RECONCILING_REASONS else "Stalled"
        conditions.append(condition(kind, "True", reason, message, generation, previous))
    return conditions


RECONCILING_REASONS = ("Progressing",)


def condition(kind: str, status: str, reason: str, message: str, generation: int,
              previous: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A metav1.Condition; lastTransitionTime moves only when its status changes."""
    old = next((c for c in previous or [] if c.get("type") == kind), None)
    stamp = (old["lastTransitionTime"] if old and old.get("status") == status
             else datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": stamp}


def patch_status(kube: Kube, namespace: str, name: str, status: dict[str, Any]) -> None:
    path = object_path(f"{api.GROUP}/{api.VERSION}", api.PLURAL, namespace, name, "status")
    try:
        kube.request("PATCH", path, {"status": status}, MERGE_PATCH)
    except KubeError as error:
        if error.status != 404:  # the OpenFnJob is gone: nothing to report on
            raise
