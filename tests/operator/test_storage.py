"""spec.storage: which sizes a job may ask for, and what of it a live claim can take."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from osc_operator import render, storage
from osc_operator.api import parse_spec, quantity_bytes
from osc_operator.reconcile import InvalidSpec, validate

SPEC = {"job": "fn(s => s)", "adaptor": "@openfn/language-common",
        "trigger": {"webhook": {}}, "storage": {"size": "1Gi"}}


def claim(size: str, storage_class: str | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["storage"] = {"size": size, **({"storageClassName": storage_class}
                                        if storage_class else {})}
    rendered = render.render_pvc("demo", "default", parse_spec(spec))
    assert rendered is not None
    return rendered


def live(size: str, storage_class: str = "standard") -> dict[str, Any]:
    """A claim as the API server returns it: a class filled in, a volume bound."""
    return {"metadata": {"name": "demo-data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                     "volumeName": "pvc-123", "resources": {"requests": {"storage": size}}}}


def size_of(manifest: dict[str, Any]) -> str:
    return manifest["spec"]["resources"]["requests"]["storage"]


@pytest.mark.parametrize(("quantity", "expected"), [
    ("1Gi", 2**30), ("512Mi", 2**29), ("1.5G", 1_500_000_000), ("0.5Ki", 512), ("10", 10),
    ("0", None), ("-1Gi", None), ("1e9", None), ("1 Gi", None), ("1GB", None)])
def test_sizes_are_read_as_bytes(quantity: str, expected: int | None) -> None:
    assert quantity_bytes(quantity) == expected


def test_a_new_claim_is_created_as_asked() -> None:
    assert storage.reconcile_claim(claim("2Gi"), None) == (claim("2Gi"), [])


def test_a_claim_grows() -> None:
    applied, warnings = storage.reconcile_claim(claim("5Gi"), live("2Gi"))
    assert size_of(applied) == "5Gi" and warnings == []


def test_a_claim_never_shrinks_and_says_so() -> None:
    applied, warnings = storage.reconcile_claim(claim("500Mi"), live("2Gi"))
    assert size_of(applied) == "2Gi"
    assert warnings == ["PersistentVolumeClaim demo-data keeps its size 2Gi: a claim cannot "
                        "shrink to 500Mi (delete it to start over, with its data)"]


def test_a_claim_the_api_server_refuses_to_grow_keeps_its_size() -> None:
    kept, note = storage.keep_size(claim("5Gi"), live("2Gi"), "HTTP 403: only dynamically "
                                   "provisioned pvc can be resized")
    assert size_of(kept) == "2Gi"
    assert "keeps its size 2Gi" in note and "to grow it to 5Gi" in note and "403" in note
    assert storage.keep_size(claim("2Gi"), live("2Gi"), "HTTP 422: other") is None


def test_the_same_size_written_otherwise_is_no_change() -> None:
    applied, warnings = storage.reconcile_claim(claim("1024Mi"), live("1Gi"))
    assert size_of(applied) == "1Gi" and warnings == []


def test_the_default_class_filled_in_by_the_cluster_is_kept_silently() -> None:
    applied, warnings = storage.reconcile_claim(claim("1Gi"), live("1Gi"))
    assert "storageClassName" not in applied["spec"] and warnings == []


def test_a_claim_keeps_its_class() -> None:
    applied, warnings = storage.reconcile_claim(claim("1Gi", "fast"), live("1Gi", "slow"))
    assert applied["spec"]["storageClassName"] == "slow"
    assert warnings == ["PersistentVolumeClaim demo-data keeps its storage class slow: a claim "
                        "cannot move to fast"]


@pytest.mark.parametrize("size", ["0", "0Gi", "-1Gi", "1e9", "1GB", "lots", ""])
def test_the_operator_refuses_a_size_that_is_not_a_quantity(size: str) -> None:
    with pytest.raises(InvalidSpec, match="spec.storage.size"):
        validate("demo", {**SPEC, "storage": {"size": size}})


def test_one_pod_at_most_with_storage() -> None:
    with pytest.raises(InvalidSpec, match="replicas must be 0 or 1 with storage"):
        validate("demo", {**SPEC, "replicas": 2})
    assert parse_spec({**SPEC, "replicas": 0}).replicas == 0
    assert parse_spec({**{k: v for k, v in SPEC.items() if k != "storage"},
                       "replicas": 3}).replicas == 3


def test_a_size_defaults_to_one_gibibyte() -> None:
    spec = parse_spec({**SPEC, "storage": {"storageClassName": "fast"}})
    assert size_of(render.render_pvc("demo", "default", spec)) == "1Gi"


WITHOUT = {k: v for k, v in SPEC.items() if k != "storage"}


def no_class() -> str | None:
    return None


def test_without_storage_a_default_class_gives_a_claim() -> None:
    placement = storage.place(parse_spec(WITHOUT), False, lambda: "standard")
    assert (placement.durable, placement.reason) == (True, "PersistentVolumeClaim")
    assert size_of(render.render_pvc("demo", "default", placement.spec)) == "1Gi"


def test_without_a_default_class_the_store_is_an_empty_dir_and_says_what_is_at_risk() -> None:
    placement = storage.place(parse_spec(WITHOUT), False, no_class)
    assert (placement.durable, placement.reason) == (False, "NoDefaultStorageClass")
    assert "queued runs and run history are lost whenever the pod is replaced" in \
        placement.message
    assert render.render_pvc("demo", "default", placement.spec) is None


def test_a_claim_made_once_is_kept_when_the_default_class_goes() -> None:
    placement = storage.place(parse_spec(WITHOUT), True, no_class)
    assert placement.durable and render.render_pvc("demo", "default", placement.spec)


def test_ephemeral_on_purpose_and_several_replicas_use_empty_dirs() -> None:
    ephemeral = storage.place(parse_spec({**SPEC, "storage": {"ephemeral": True},
                                          "replicas": 2}), True, lambda: "standard")
    assert (ephemeral.durable, ephemeral.reason) == (False, "EphemeralStorage")
    assert render.render_pvc("demo", "default", ephemeral.spec) is None
    several = storage.place(parse_spec({**WITHOUT, "replicas": 3}), False, lambda: "standard")
    assert (several.durable, several.reason) == (False, "SeveralReplicas")
    assert render.render_pvc("demo", "default", several.spec) is None


def test_the_default_class_is_read_from_its_annotation() -> None:
    class Classes:
        def __init__(self, items: list[dict[str, Any]]) -> None:
            self.items = items

        def request(self, method: str, path: str) -> dict[str, Any]:
            assert (method, path) == ("GET", "/apis/storage.k8s.io/v1/storageclasses")
            return {"items": self.items}

    def sc(name: str, default: str | None) -> dict[str, Any]:
        annotations = {} if default is None else {
            "storageclass.kubernetes.io/is-default-class": default}
        return {"metadata": {"name": name, "annotations": annotations}}
    # A stand-in for the API: only the list's shape matters here (the emulator tests read it).
    assert storage.default_class(Classes([sc("slow", None), sc("fast", "true")])) == "fast"
    assert storage.default_class(Classes([sc("slow", "false")])) is None
