"""The operator's rights: least privilege, namespaced unless cluster-wide is asked for."""

from __future__ import annotations

from typing import Any

from tests.chart.conftest import NAMESPACE, RELEASE, Render, by_kind, one

CRUD = {"get", "list", "watch", "create", "update", "patch", "delete"}
# (apiGroup, resource) -> verbs: everything the operator may do, and nothing more.
EXPECTED_RULES: dict[tuple[str, str], set[str]] = {
    ("osc.openfn.org", "openfnjobs"): {"get", "list", "watch", "patch"},
    ("osc.openfn.org", "openfnjobs/status"): {"get", "patch"},
    ("osc.openfn.org", "openfnjobs/finalizers"): {"update"},
    ("", "configmaps"): CRUD,
    ("", "services"): CRUD,
    ("apps", "deployments"): CRUD,
    ("batch", "cronjobs"): CRUD,
    ("", "secrets"): {"get", "list", "watch", "create", "patch"},
    ("", "persistentvolumeclaims"): {"get", "list", "watch", "create", "patch"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
CLUSTER_ONLY = {("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"}}


def grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    table: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                table.setdefault((group, resource), set()).update(rule["verbs"])
    return table


def assert_no_wildcards(role: dict[str, Any]) -> None:
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {field}: {rule}"


def test_default_is_one_role_in_the_release_namespace(render: Render) -> None:
    objects = render()
    assert not by_kind(objects, "ClusterRole") and not by_kind(objects, "ClusterRoleBinding")
    role, binding = one(objects, "Role"), one(objects, "RoleBinding")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert_no_wildcards(role)
    assert grants(role) == EXPECTED_RULES
    account = one(objects, "ServiceAccount")["metadata"]["name"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]


def test_secrets_are_never_updated_or_deleted(render: Render) -> None:
    for values in ({}, {"clusterWide": True}):
        for role in by_kind(render(values), "Role") + by_kind(render(values), "ClusterRole"):
            assert grants(role)[("", "secrets")] <= {"get", "list", "watch", "create", "patch"}


def test_a_role_per_watched_namespace(render: Render) -> None:
    namespaces = ["team-a", "team-b", "team-c"]
    objects = render({"watchNamespaces": namespaces})
    roles, bindings = by_kind(objects, "Role"), by_kind(objects, "RoleBinding")
    assert sorted(role["metadata"]["namespace"] for role in roles) == namespaces
    assert sorted(binding["metadata"]["namespace"] for binding in bindings) == namespaces
    assert all(grants(role) == EXPECTED_RULES for role in roles)
    # The operator itself stays in the release namespace.
    assert all(b["subjects"][0]["namespace"] == NAMESPACE for b in bindings)
    assert not by_kind(objects, "ClusterRole")


def test_cluster_wide_only_when_asked(render: Render) -> None:
    objects = render({"clusterWide": True})
    assert not by_kind(objects, "Role") and not by_kind(objects, "RoleBinding")
    role, binding = one(objects, "ClusterRole"), one(objects, "ClusterRoleBinding")
    assert_no_wildcards(role)
    assert grants(role) == {**EXPECTED_RULES, **CLUSTER_ONLY}
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_no_rbac_when_disabled(render: Render) -> None:
    for values in ({"rbac": {"create": False}}, {"rbac": {"create": False}, "clusterWide": True}):
        kinds = {obj["kind"] for obj in render(values)}
        assert not kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


def test_own_service_account_is_bound(render: Render) -> None:
    objects = render({"serviceAccount": {"create": False, "name": "ops-sa"}})
    assert not by_kind(objects, "ServiceAccount")
    assert one(objects, "RoleBinding")["subjects"][0]["name"] == "ops-sa"
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ops-sa"
    assert RELEASE in one(objects, "Role")["metadata"]["name"]
