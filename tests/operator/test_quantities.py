"""The API server rewrites quantities in canonical form; the operator must not take that for a
difference (it would patch the Deployment and post an `Updated` Event at every reconcile, as
the real control plane showed: tests/cluster/test_cluster_restart.py)."""

from __future__ import annotations

import pytest

from osc_operator.kube import contains, same_quantity


@pytest.mark.parametrize(("live", "desired"), [
    ("1", 1), ("512Mi", "0.5Gi"), ("100m", "0.1"), ("1500M", "1.5G"), ("1k", "1000"),
    ("2", "2000m"), ("1G", "1e9")])
def test_equal_quantities_compare_equal(live: str, desired: str | int) -> None:
    assert same_quantity(live, desired)


@pytest.mark.parametrize(("live", "desired"), [("1", 2), ("512Mi", "512M"), ("1", "lots")])
def test_different_quantities_differ(live: str, desired: str | int) -> None:
    assert not same_quantity(live, desired)


def test_only_resource_maps_compare_by_value() -> None:
    live = {"resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m"}},
            "env": [{"name": "SIZE", "value": "1000"}]}
    assert contains(live, {"resources": {"limits": {"cpu": 1, "memory": "0.5Gi"},
                                         "requests": {"cpu": "0.1"}}})
    assert not contains(live, {"resources": {"limits": {"cpu": 2}}})
    assert not contains(live, {"env": [{"name": "SIZE", "value": "1k"}]})  # a string is a string
