"""The operator's rights: least privilege, namespaced unless cluster-wide is asked for."""

from __future__ import annotations

from typing import Any

import re

from tests.chart.conftest import NAMESPACE, RELEASE, Render, by_kind, one
from tests.tools import ROOT

README = ROOT / "README.md"
TABLE = re.compile(r"<!-- rbac-table: start -->\n(.*?)<!-- rbac-table: end -->", re.S)
Rules = dict[tuple[str, str], set[str]]


def readme_table() -> dict[str, Rules]:
    """The README's RBAC table, the one statement of the operator's rights: scope → (apiGroup,
    resource) → verbs. Scopes: `namespace`, `cluster`, each with an optional `(value)` that
    the row depends on."""
    rows = TABLE.search(README.read_text()).group(1).strip().splitlines()[2:]
    table: dict[str, Rules] = {}
    for row in rows:
        scope, group, resource, verbs, _ = (cell.strip() for cell in row.strip("|").split("|"))
        rules = table.setdefault(scope, {})
        rules[(group.strip('"'), resource)] = {verb.strip() for verb in verbs.split(",")}
    return table


def expected(scope: str, values: tuple[str, ...] = ()) -> Rules:
    """The rows of `scope`, with those that depend on one of `values` (e.g. clusterWide)."""
    rules: Rules = {}
    for row_scope, row_rules in readme_table().items():
        base, _, condition = row_scope.partition(" (")
        if base == scope and (not condition or condition.rstrip(")") in values):
            rules.update(row_rules)
    return rules


EXPECTED_RULES = expected("namespace")
CLUSTER_ONLY = {key: verbs for key, verbs in expected("cluster", ("clusterWide",)).items()
                if key not in expected("cluster")}
STORAGE_CLASSES = expected("cluster")


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


def operator_cluster_roles(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRoles bound to the operator (not the ones aggregated for people)."""
    bound = {b["roleRef"]["name"] for b in by_kind(objects, "ClusterRoleBinding")}
    return [role for role in by_kind(objects, "ClusterRole") if role["metadata"]["name"] in bound]


def test_the_table_is_read() -> None:
    """The rows the tests below compare with: a broken table must not pass as an empty one."""
    assert EXPECTED_RULES[("osc.openfn.org", "openfnjobs")] == {"get", "list", "watch", "patch"}
    assert len(EXPECTED_RULES) >= 12 and STORAGE_CLASSES == {
        ("storage.k8s.io", "storageclasses"): {"list"}}
    assert ("networking.k8s.io", "networkpolicies") not in EXPECTED_RULES
    assert ("networking.k8s.io", "networkpolicies") in expected("namespace",
                                                                ("jobNetworkPolicy.enabled",))


def test_default_is_one_role_in_the_release_namespace(render: Render) -> None:
    objects = render()
    [cluster_role] = operator_cluster_roles(objects)  # reading StorageClasses, nothing else
    assert grants(cluster_role) == STORAGE_CLASSES
    role, binding = one(objects, "Role"), one(objects, "RoleBinding")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert_no_wildcards(role)
    assert grants(role) == EXPECTED_RULES
    account = one(objects, "ServiceAccount")["metadata"]["name"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]


def test_network_policies_only_with_the_job_network_policy(render: Render) -> None:
    objects = render({"jobNetworkPolicy": {"enabled": True}})
    assert grants(one(objects, "Role")) == expected("namespace", ("jobNetworkPolicy.enabled",))
    env = {var["name"]: var.get("value") for var in one(objects, "Deployment")["spec"][
        "template"]["spec"]["containers"][0]["env"]}
    assert env["OSC_OPERATOR_NETWORK_POLICY"] == "true"


def test_openfnjob_rights_are_aggregated_into_admin_edit_and_view(render: Render) -> None:
    roles = {role["metadata"]["name"]: role for role in by_kind(render(), "ClusterRole")}
    edit, view = roles[f"{RELEASE}-openfnjobs-edit"], roles[f"{RELEASE}-openfnjobs-view"]
    labels = "rbac.authorization.k8s.io/aggregate-to-"
    assert {key for key, value in edit["metadata"]["labels"].items() if key.startswith(labels)
            and value == "true"} == {f"{labels}admin", f"{labels}edit"}
    assert view["metadata"]["labels"][f"{labels}view"] == "true"
    assert grants(edit) == {("osc.openfn.org", "openfnjobs"): {
        "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}}
    assert grants(view) == {("osc.openfn.org", "openfnjobs"): {"get", "list", "watch"}}
    aggregated = by_kind(render({"rbac": {"aggregateToDefaultRoles": False}}), "ClusterRole")
    assert not [role for role in aggregated if "openfnjobs-" in role["metadata"]["name"]]


def test_secrets_are_never_updated_or_deleted(render: Render) -> None:
    for values in ({}, {"clusterWide": True}):
        for role in by_kind(render(values), "Role") + by_kind(render(values), "ClusterRole"):
            assert grants(role).get(("", "secrets"), set()) <= {
                "get", "list", "watch", "create", "patch"}


def test_a_role_per_watched_namespace(render: Render) -> None:
    namespaces = ["team-a", "team-b", "team-c"]
    objects = render({"watchNamespaces": namespaces})
    roles, bindings = by_kind(objects, "Role"), by_kind(objects, "RoleBinding")
    assert sorted(role["metadata"]["namespace"] for role in roles) == namespaces
    assert sorted(binding["metadata"]["namespace"] for binding in bindings) == namespaces
    assert all(grants(role) == EXPECTED_RULES for role in roles)
    # The operator itself stays in the release namespace.
    assert all(b["subjects"][0]["namespace"] == NAMESPACE for b in bindings)
    assert [grants(role) for role in operator_cluster_roles(objects)] == [STORAGE_CLASSES]


def test_cluster_wide_only_when_asked(render: Render) -> None:
    objects = render({"clusterWide": True})
    assert not by_kind(objects, "Role") and not by_kind(objects, "RoleBinding")
    [role] = [r for r in operator_cluster_roles(objects) if grants(r) != STORAGE_CLASSES]
    binding = next(b for b in by_kind(objects, "ClusterRoleBinding")
                   if b["roleRef"]["name"] == role["metadata"]["name"])
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
