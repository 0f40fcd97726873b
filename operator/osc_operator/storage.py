"""Where a job's run store lives, and what of `spec.storage` a live claim can take.

Durable by default: without `spec.storage` the store goes on a claim when the cluster has a
default StorageClass (or the job already has its claim: a class removed later never moves
the data back to an emptyDir); else, with replicas above 1, or with `ephemeral: true`, on an
emptyDir, and the job says so in its Durable condition.

A claim's size can only grow (and only where its StorageClass allows expansion) and its class
never changes: the API server refuses both. The data on it must outlive such a spec change,
so the operator keeps the claim as it is and says why, instead of replacing it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osc_operator import kube
from osc_operator.api import OpenFnJobSpec, Storage, quantity_bytes

KEPT_REASON = "StorageKept"  # the Warning's reason for a part of spec.storage kept back


def reconcile_claim(desired: dict[str, Any],
                    live: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """The claim to apply, and a note for each part of `desired` kept back from `live`."""
    if live is None:
        return desired, []
    claim, notes = copy.deepcopy(desired), []
    name = desired["metadata"]["name"]
    wanted_spec, live_spec = claim["spec"], live.get("spec") or {}
    wanted = wanted_spec["resources"]["requests"]["storage"]
    current = ((live_spec.get("resources") or {}).get("requests") or {}).get("storage")
    if current is not None and not _grows(wanted, current):
        wanted_spec["resources"]["requests"]["storage"] = current
        if wanted != current and quantity_bytes(wanted) != quantity_bytes(current):
            notes.append(f"PersistentVolumeClaim {name} keeps its size {current}: a claim "
                         f"cannot shrink to {wanted} (delete it to start over, with its data)")
    live_class = live_spec.get("storageClassName")
    if live_class is not None and wanted_spec.get("storageClassName", live_class) != live_class:
        notes.append(f"PersistentVolumeClaim {name} keeps its storage class {live_class}: a "
                     f"claim cannot move to {wanted_spec['storageClassName']}")
        wanted_spec["storageClassName"] = live_class
    return claim, notes


def keep_size(claim: dict[str, Any], live: dict[str, Any] | None,
              refusal: str) -> tuple[dict[str, Any], str] | None:
    """`claim` at the live claim's size, and why, after the API server refused `claim` (e.g.
    growing it where the StorageClass allows no volume expansion); None when the size is not
    what changed."""
    current = (((live or {}).get("spec") or {}).get("resources") or {}).get("requests", {}).get(
        "storage")
    wanted = claim["spec"]["resources"]["requests"]["storage"]
    if current is None or current == wanted:
        return None
    kept = copy.deepcopy(claim)
    kept["spec"]["resources"]["requests"]["storage"] = current
    name = claim["metadata"]["name"]
    return kept, (f"PersistentVolumeClaim {name} keeps its size {current}: the API server "
                  f"refused to grow it to {wanted} ({refusal}; does its StorageClass allow "
                  "volume expansion?)")


def _grows(wanted: str, current: str) -> bool:
    wanted_bytes, current_bytes = quantity_bytes(wanted), quantity_bytes(current)
    if wanted_bytes is None or current_bytes is None:
        return False  # a form we cannot compare: leave the claim alone
    return wanted_bytes > current_bytes


# Where the run store lives when the spec does not say: on a claim whenever one can be made.
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
AT_RISK = ("queued runs and run history are lost whenever the pod is replaced (a rollout after "
           "a spec change, a drain, an eviction)")


@dataclass(frozen=True)
class Placement:
    """The effective spec (storage filled in) and the Durable condition that goes with it."""

    spec: OpenFnJobSpec
    durable: bool
    reason: str
    message: str


def place(spec: OpenFnJobSpec, claim_exists: bool, default_class: Callable[[], str | None],
          ) -> Placement:
    """Where the run store goes. `default_class` is only asked when it matters."""
    if spec.storage is not None and spec.storage.postgres is not None:
        return Placement(spec, True, "PostgreSQL",
                         "the run store is on PostgreSQL (spec.storage.postgres): queued runs "
                         "and history survive pod replacement, and the replicas share them")
    if spec.storage is not None and spec.storage.ephemeral:
        return Placement(spec, False, "EphemeralStorage",
                         f"spec.storage.ephemeral: the run store is an emptyDir: {AT_RISK}")
    if spec.storage is not None:
        return Placement(spec, True, "PersistentVolumeClaim", CLAIM_MESSAGE)
    if spec.replicas > 1:
        return Placement(spec, False, "SeveralReplicas",
                         f"replicas {spec.replicas}: each pod keeps its run store in an emptyDir "
                         f"(a claim serves one pod): {AT_RISK}; use replicas 1 to keep them")
    if claim_exists or default_class() is not None:
        durable = spec.model_copy(update={"storage": Storage()})
        return Placement(durable, True, "PersistentVolumeClaim", CLAIM_MESSAGE)
    return Placement(spec, False, "NoDefaultStorageClass",
                     "the cluster has no default StorageClass, so the run store is an emptyDir: "
                     f"{AT_RISK}; set spec.storage.storageClassName (or mark a StorageClass "
                     "default) to keep them")


CLAIM_MESSAGE = ("the run store is on PersistentVolumeClaim <name>-data: queued runs and "
                 "history survive rollouts, drains and evictions")


def default_class(client: kube.Kube) -> str | None:
    """The name of the default StorageClass; None when there is none or it cannot be read.
    Asked only for a job that has no claim yet (its first reconciliation, mostly)."""
    try:
        classes = client.request("GET", STORAGE_CLASSES).get("items") or []
    except kube.KubeError:
        return None  # not allowed or not served: no default we can rely on
    for item in classes:
        annotations = item.get("metadata", {}).get("annotations") or {}
        if any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS):
            return item["metadata"]["name"]
    return None
