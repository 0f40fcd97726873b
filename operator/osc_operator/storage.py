"""What of `spec.storage` a live PersistentVolumeClaim can take.

A claim's size can only grow (and only where its StorageClass allows expansion) and its class
never changes: the API server refuses both. The data on it must outlive such a spec change,
so the operator keeps the claim as it is and says why, instead of replacing it.
"""

from __future__ import annotations

import copy
from typing import Any

from osc_operator.api import quantity_bytes


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
