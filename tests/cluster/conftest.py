"""The real control plane (one per test run) and the osc chart on it, in both RBAC modes.

`cluster` starts tests/cluster/controlplane.py in a temporary directory on free ports (the
same code as `make cluster`, never the same instance), or, with OSC_TEST_KUBECONFIG set,
uses that cluster (e.g. kind, from tests/e2e/kind.sh) and starts nothing. `cluster.audit_log`
is the API server's audit log (Metadata level: user, verb, resource, name, response code of
every request) when we started it, None on an external cluster.

`osc` (one per test run and mode) installs the chart with the real helm, CRD included,
once per mode: `namespaced` (the default: a Role in the jobs' namespace) and `cluster-wide`
(`clusterWide=true`: a ClusterRole), the second as a `helm upgrade` of the first. The
operator runs as a local process authenticated as the chart's ServiceAccount with a token
from the TokenRequest API, so its rights are exactly the chart's RBAC. pytest runs every test
of one mode before the next mode starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlane
from tests.cluster.jobs import EVERY_MINUTE, FIXED_STORAGE_CLASS, STORAGE_CLASS, openfnjob
from tests.cluster.kubectl import Cluster
from tests.cluster.operator_process import OperatorProcess
from tests.tools import ROOT

CHART = ROOT / "charts" / "osc"
RELEASE, RELEASE_NAMESPACE = "osc", "osc-system"
SERVICE_ACCOUNT = "osc"  # the chart's fullname for release `osc`
MODES = {"namespaced": "osc-jobs", "cluster-wide": "osc-anywhere"}  # mode → jobs' namespace


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each mode (pytest groups the tests by `osc` already), the restart test last: it
    restarts the operator over every job the mode's other tests left."""
    def key(item: pytest.Item) -> tuple[int, bool]:
        mode = getattr(item, "callspec", None) and item.callspec.params.get("osc")
        if mode is None:
            return -1, False
        return list(MODES).index(mode), "test_cluster_restart" in item.nodeid

    items.sort(key=key)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    external = os.environ.get("OSC_TEST_KUBECONFIG")
    if external:
        yield Cluster(Path(external), audit_log=None)
        return
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    plane.start()
    try:
        yield Cluster(plane.admin_kubeconfig, audit_log=plane.audit_log)
    finally:
        plane.stop(remove=False)  # logs and audit log stay in pytest's temporary directory




@pytest.fixture(scope="session")
def default_storage(cluster: Cluster) -> None:
    """A default StorageClass with pre-made volumes, unless the cluster has one already.

    Our control plane has no volume provisioner (no kubelet, no CSI driver: kwok only plays
    the node), so a claim of `spec.storage` would stay Pending and its pod unscheduled. The
    class `osc-test-local` (no provisioner, immediate binding, expansion allowed, as local
    volumes are set up by hand) and a pool of hostPath PersistentVolumes let the real
    PersistentVolume controller bind the claims, and the API server accept a claim growing;
    `osc-test-fixed` is the same without expansion, which the API server refuses to grow.
    A cluster with a provisioner (kind's `standard`) is used as it is.
    """
    classes = cluster.list("/apis/storage.k8s.io/v1/storageclasses")
    if any((c["metadata"].get("annotations") or {}).get(
            "storageclass.kubernetes.io/is-default-class") == "true" for c in classes):
        return
    cluster.apply("default", *_local_storage(STORAGE_CLASS, default=True, expandable=True),
                  *_local_storage(FIXED_STORAGE_CLASS, default=False, expandable=False))


def _local_storage(name: str, default: bool, expandable: bool) -> list[dict]:
    """A StorageClass without provisioner and 64 hostPath volumes of it (Retain: a released
    volume is not bound again; every job without `spec.storage` takes one of the default
    class too, since the store is durable by default: both modes together use about 40)."""
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    storage_class = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                     "metadata": {"name": name, "annotations": annotations},
                     "provisioner": "kubernetes.io/no-provisioner",
                     "volumeBindingMode": "Immediate", "allowVolumeExpansion": expandable}
    volumes = [{"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"{name}-{index}"},
                "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": name,
                         "hostPath": {"path": f"/tmp/{name}-{index}"}}}
               for index in range(64)]
    return [storage_class, *volumes]


class Osc:
    """One mode's install: where its jobs go, the operator process, and the cluster."""

    def __init__(self, mode: str, cluster: Cluster, operator: OperatorProcess) -> None:
        self.mode, self.cluster, self.operator = mode, cluster, operator
        self.namespace = MODES[mode]
        self.user = f"system:serviceaccount:{RELEASE_NAMESPACE}:{SERVICE_ACCOUNT}"


@pytest.fixture(scope="session", params=list(MODES))
def osc(request: pytest.FixtureRequest, cluster: Cluster, default_storage: None,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Osc]:
    mode = request.param
    namespace = MODES[mode]
    cluster.kubectl("create", "namespace", namespace, check=False)
    values = ["--set", "clusterWide=true"] if mode == "cluster-wide" else [
        "--set", f"watchNamespaces={{{namespace}}}"]
    # On our control plane the chart's own operator pod is only simulated (kwok), so helm can
    # wait for it; on a real cluster it would run beside the local operator: scaled to 0.
    wait = [] if cluster.external else ["--wait", "--timeout", "120s"]
    cluster.helm("upgrade", "--install", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE,
                 "--create-namespace", *wait, *values)
    if cluster.external:
        cluster.kubectl("scale", "deployment", SERVICE_ACCOUNT, "-n", RELEASE_NAMESPACE,
                        "--replicas=0")
    workdir = tmp_path_factory.mktemp(f"operator-{mode}")
    kubeconfig = cluster.service_account_kubeconfig(
        RELEASE_NAMESPACE, SERVICE_ACCOUNT, workdir / "operator.kubeconfig")
    operator = OperatorProcess(kubeconfig, workdir,
                               watch_namespaces="" if mode == "cluster-wide" else namespace)
    operator.start()
    # test_cluster_triggers.py's every-minute cron job, made first so that the wait for the CronJob
    # controller's next minute overlaps every other test of the mode
    cluster.apply(namespace, openfnjob(EVERY_MINUTE, trigger={"cron": {
        "schedule": "* * * * *", "timeZone": "Etc/UTC"}}))
    try:
        yield Osc(mode, cluster, operator)
    finally:
        operator.stop()
        # the next mode's operator must not find this mode's jobs (cluster-wide sees them all)
        cluster.kubectl("delete", "namespace", namespace, "--timeout=90s", check=False)
