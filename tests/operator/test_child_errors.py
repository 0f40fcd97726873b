"""A refusal of a child that passes by itself is retried in seconds, others after a minute.

On the real control plane (tests/cluster), the first OpenFnJob applied right after the chart
installed the CRD had its inbox Secret refused — the API server's admission did not know the
new kind yet ("cannot find RESTMapping") — and waited a whole minute for the next attempt."""

from __future__ import annotations

from osc_operator.kube import KubeError
from osc_operator.reconcile import child_failed

SECRET = {"kind": "Secret", "metadata": {"name": "demo-inbox"}}


def test_an_unknown_owner_kind_right_after_the_crd_is_retried_soon() -> None:
    error = KubeError(403, 'secrets "demo-inbox" is forbidden: cannot set blockOwnerDeletion in '
                      "this case because cannot find RESTMapping for APIVersion "
                      "osc.openfn.org/v1alpha1 Kind OpenFnJob")
    failed = child_failed(SECRET, error, ["ConfigMap demo-job created"])
    assert failed.soon and failed.changes == ["ConfigMap demo-job created"]
    assert str(failed).startswith("Secret demo-inbox: HTTP 403: ")


def test_other_refusals_wait() -> None:
    assert not child_failed(SECRET, KubeError(403, "secrets is forbidden: no RBAC"), []).soon
    assert not child_failed(SECRET, KubeError(422, "RESTMapping in a message"), []).soon
