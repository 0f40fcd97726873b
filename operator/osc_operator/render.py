"""Pure builders: an OpenFnJob → the manifests of its children.

Nothing here talks to Kubernetes or kopf: every function takes the job's name, namespace and
validated spec and returns plain dicts, so the manifests are unit-tested without a cluster.
Owner references are added by the caller (`kopf.adopt`).

The runtime reads its configuration from OSC_* environment variables and files mounted at the
fixed paths below; they are the contract between this module and `osc_runtime.settings`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from osc_operator import adaptor_install, job_check, workflow_render
from osc_operator.api import DEFAULT_STORAGE_SIZE, OpenFnJobSpec
from osc_operator.webhook_render import (
    DATABASE_DIR, DATABASE_FILE, api_key_secret_ref, secret_files, webhook_env,
)

PORT = 8080
RUN_AS = 10001  # the runtime image's non-root user and group
JOB_DIR, JOB_FILE = "/etc/osc/job", "job.js"
CREDENTIAL_DIR, CREDENTIAL_FILE = "/etc/osc/credential", "credential.json"
INBOX_DIR, INBOX_FILE = "/etc/osc/inbox", "api-key"
DATA_DIR = "/var/lib/osc"
FLOW_DIR, FLOW_TARGETS_FILE = "/etc/osc/flow", "targets.json"  # written for it: see flow.py
READ_ONLY_FILE_MODE = 0o400
ANNOTATION_PREFIX = "osc.openfn.org"
# Every emptyDir is bounded: a runaway job fills its own volume, not the node's disk.
TMP_SIZE_LIMIT, TRIGGER_TMP_SIZE_LIMIT = "256Mi", "16Mi"
# The runtime's share of a node unless spec.resources says otherwise (it replaces them whole):
# node and OpenFn core per run, warm workers recycled at 256 MB each.
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"},
                     "limits": {"memory": "1Gi"}}
TRIGGER_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"},
                     "limits": {"memory": "128Mi"}}


@dataclass(frozen=True)
class Checksums:
    """sha256 of the content the pods read from files: a change rolls the pods."""

    job: str
    credential: str | None = None
    api_key: str | None = None
    npmrc: str | None = None  # read by the adaptor install init container only
    extra: dict[str, str] = field(default_factory=dict)

    def annotations(self) -> dict[str, str]:
        values = {"job": self.job, "credential": self.credential, "api-key": self.api_key,
                  "npmrc": self.npmrc}
        values.update(self.extra)
        return {f"{ANNOTATION_PREFIX}/{key}-checksum": value
                for key, value in values.items() if value is not None}


def checksum(content: str | bytes) -> str:
    data = content.encode() if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def selector_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "openfnjob", "app.kubernetes.io/instance": name}


def labels(name: str) -> dict[str, str]:
    return {**selector_labels(name), "app.kubernetes.io/component": "job-runtime",
            "app.kubernetes.io/part-of": "osc", "app.kubernetes.io/managed-by": "osc-operator"}


def trigger_labels(name: str) -> dict[str, str]:
    """Labels of the cron trigger's pods: outside the Service's selector."""
    return {**labels(name), "app.kubernetes.io/name": "openfnjob-trigger",
            "app.kubernetes.io/component": "trigger"}


def job_configmap_name(name: str) -> str:
    return f"{name}-job"


def inbox_secret_name(name: str) -> str:
    return f"{name}-inbox"


def inbox_key_ref(name: str, spec: OpenFnJobSpec) -> tuple[str, str]:
    """(Secret, key) holding the inbox API key: the user's own or the generated one."""
    own = api_key_secret_ref(spec.trigger.webhook)
    if own is not None:
        return own.name, own.key
    return inbox_secret_name(name), INBOX_FILE


def inbox_authenticated(spec: OpenFnJobSpec) -> bool:
    """False only for a webhook that asks for no authentication by name."""
    webhook = spec.trigger.webhook
    return webhook is None or webhook.authenticated


def flow_configmap_name(name: str) -> str:
    return f"{name}-flow"


def flow_keys_secret_name(name: str) -> str:
    return f"{name}-flow-keys"


def flow_volume(name: str) -> dict[str, Any]:
    """Where the runtime finds the jobs that run after it: the same volume whether or not
    there are any, so a downstream job never changes this job's pod template (flow.py)."""
    return {"name": "flow", "projected": {"defaultMode": READ_ONLY_FILE_MODE, "sources": [
        {"configMap": {"name": flow_configmap_name(name), "optional": True,
                       "items": [{"key": FLOW_TARGETS_FILE, "path": FLOW_TARGETS_FILE}]}},
        {"secret": {"name": flow_keys_secret_name(name), "optional": True}}]}}


def data_claim_name(name: str) -> str:
    return f"{name}-data"


def inbox_url(name: str, namespace: str) -> str:
    return f"http://{name}.{namespace}.svc/inbox"


def _metadata(name: str, namespace: str, owner: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(owner)}


def render_job_configmap(name: str, namespace: str, spec: OpenFnJobSpec) -> dict[str, Any] | None:
    """ConfigMap `<name>-job` with the inline job, or a workflow's plan and inline steps;
    None when the single job comes from `jobFrom`."""
    if spec.is_workflow:
        data = workflow_render.configmap_data(spec)
    elif spec.job is not None:
        data = {JOB_FILE: spec.job}
    else:
        return None
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _metadata(job_configmap_name(name), namespace, name), "data": data}


def render_inbox_secret(name: str, namespace: str, api_key: str) -> dict[str, Any]:
    """Secret `<name>-inbox` holding a generated inbox key (created once, never rotated)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _metadata(inbox_secret_name(name), namespace, name),
            "stringData": {INBOX_FILE: api_key}}


def on_claim(spec: OpenFnJobSpec) -> bool:
    """Whether the run store is on the job's claim. `spec` here is the effective one: the
    operator fills in `storage` where the cluster offers a default (storage.py)."""
    return spec.storage is not None and not spec.storage.ephemeral \
        and spec.storage.postgres is None


def render_pvc(name: str, namespace: str, spec: OpenFnJobSpec) -> dict[str, Any] | None:
    """PersistentVolumeClaim `<name>-data` for the run store; None for an emptyDir store."""
    if not on_claim(spec):
        return None
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": spec.storage.claim_size}}}
    if spec.storage.storage_class_name is not None:
        claim["storageClassName"] = spec.storage.storage_class_name
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": _metadata(data_claim_name(name), namespace, name), "spec": claim}


def render_service(name: str, namespace: str) -> dict[str, Any]:
    """Service `<name>`: port 80 → the runtime's `http` port."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _metadata(name, namespace, name),
            "spec": {"type": "ClusterIP", "selector": selector_labels(name),
                     "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                "protocol": "TCP"}]}}


def render_deployment(name: str, namespace: str, spec: OpenFnJobSpec, *, image: str,
                      checksums: Checksums) -> dict[str, Any]:
    """Deployment `<name>` running the runtime image with the OSC_* contract filled in.

    `image` is the operator's default runtime image; `spec.image` overrides it.
    """
    pod_spec = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [_runtime_container(name, spec, spec.image or image)],
        "volumes": _volumes(name, spec),
    }
    install = spec.adaptor_install
    adaptor_install.add_init_containers(
        pod_spec, spec.adaptors(), spec.image or image, container_security_context(),
        registry=install.registry if install else None, npmrc=_npmrc_source(spec))
    # Two pods must never open one SQLite store: with a claim, the old pod goes first.
    strategy = {"type": "Recreate" if on_claim(spec) else "RollingUpdate"}
    # With an autoscaler, the number of pods is its own: never rendered, so never written back
    # (a merge patch keeps what it does not mention; a new Deployment starts with one pod).
    replicas = {} if spec.autoscaling is not None else {"replicas": spec.replicas}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(name, namespace, name),
        "spec": {
            **replicas,
            "strategy": strategy,
            "selector": {"matchLabels": selector_labels(name)},
            "template": {"metadata": {"labels": labels(name),
                                      "annotations": checksums.annotations()},
                         "spec": pod_spec},
        },
    }


def pod_security_context() -> dict[str, Any]:
    """The restricted Pod Security Standard, plus fsGroup so the 0400 key files are readable."""
    return {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}


def _runtime_container(name: str, spec: OpenFnJobSpec, image: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
    container: dict[str, Any] = {
        "name": "runtime", "image": image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": runtime_env(name, spec),
        "volumeMounts": _volume_mounts(spec),
        "livenessProbe": probe,
        "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": "http"}},
        "securityContext": container_security_context(),
        # an invalid job's message (written by the runtime) stays in the pod's status
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    container["resources"] = (copy.deepcopy(DEFAULT_RESOURCES) if spec.resources is None
                              else spec.resources.model_dump(exclude_none=True))
    return container


def runtime_env(name: str, spec: OpenFnJobSpec) -> list[dict[str, Any]]:
    """The runtime's OSC_* contract, then the user's own `env` (appended, so it can add more)."""
    code = ({"OSC_WORKFLOW_PATH": f"{JOB_DIR}/{workflow_render.PLAN_FILE}"} if spec.is_workflow
            else {"OSC_JOB_PATH": f"{JOB_DIR}/{JOB_FILE}", "OSC_ADAPTOR": spec.adaptor})
    env = {"OSC_JOB_NAME": name, **code, "OSC_TRIGGER": spec.trigger.kind,
           "OSC_API_KEYS_PATH": f"{INBOX_DIR}/{INBOX_FILE}", "OSC_DATA_DIR": DATA_DIR,
           "OSC_PORT": str(PORT), "OSC_FLOW_TARGETS_PATH": f"{FLOW_DIR}/{FLOW_TARGETS_FILE}"}
    if not inbox_authenticated(spec):
        del env["OSC_API_KEYS_PATH"]
        env["OSC_AUTH"] = "none"  # asked for by name: spec.trigger.webhook.allowUnauthenticated
    if spec.credential is not None:
        env["OSC_CREDENTIAL_PATH"] = f"{CREDENTIAL_DIR}/{CREDENTIAL_FILE}"
    if spec.run_timeout_seconds is not None:
        env["OSC_RUN_TIMEOUT_SECONDS"] = str(spec.run_timeout_seconds)
    if spec.concurrency is not None:
        env["OSC_CONCURRENCY"] = str(spec.concurrency)
    webhook = spec.trigger.webhook
    if webhook is not None and webhook.filter:
        env["OSC_FILTER"] = json.dumps(webhook.filter, separators=(",", ":"), sort_keys=True)
    env.update(webhook_env(webhook))
    if spec.storage is not None and spec.storage.postgres is not None:
        env["OSC_DATABASE_URL_PATH"] = f"{DATABASE_DIR}/{DATABASE_FILE}"
    user = [var.model_dump(by_alias=True, exclude_none=True) for var in spec.env or []]
    contract = [{"name": key, "value": value} for key, value in env.items()]
    return contract + job_check.runtime_settings() + user


def _volume_mounts(spec: OpenFnJobSpec) -> list[dict[str, Any]]:
    mounts = [{"name": "job", "mountPath": JOB_DIR, "readOnly": True},
              {"name": "inbox", "mountPath": INBOX_DIR, "readOnly": True},
              {"name": "data", "mountPath": DATA_DIR},
              {"name": "tmp", "mountPath": "/tmp"},
              {"name": "flow", "mountPath": FLOW_DIR, "readOnly": True}]
    if spec.credential is not None or workflow_render.credential_volume(spec) is not None:
        mounts.insert(1, {"name": "credential", "mountPath": CREDENTIAL_DIR, "readOnly": True})
    if not inbox_authenticated(spec):
        mounts = [mount for mount in mounts if mount["name"] != "inbox"]
    mounts += [{"name": item.volume, "mountPath": item.directory, "readOnly": True}
               for item in secret_files(spec)]
    return mounts


def _volumes(name: str, spec: OpenFnJobSpec) -> list[dict[str, Any]]:
    # Whole-directory mounts with `items` (no subPath), so a changed Secret reaches running pods.
    inbox_secret, inbox_key = inbox_key_ref(name, spec)
    job = (workflow_render.job_volume(job_configmap_name(name), spec) if spec.is_workflow
           else {"name": "job", "configMap": _job_source(name, spec)})
    volumes = [job,
               {"name": "inbox", "secret": secret_file(inbox_secret, inbox_key, INBOX_FILE)},
               {"name": "data", **_data_source(name, spec)},
               {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
               flow_volume(name)]
    if spec.credential is not None:
        ref = spec.credential.secret_ref
        volumes.insert(1, {"name": "credential",
                           "secret": secret_file(ref.name, ref.key, CREDENTIAL_FILE)})
    elif (step_credentials := workflow_render.credential_volume(spec)) is not None:
        volumes.insert(1, step_credentials)
    if not inbox_authenticated(spec):
        volumes = [volume for volume in volumes if volume["name"] != "inbox"]
    volumes += [{"name": item.volume, "secret": secret_file(item.ref.name, item.ref.key, item.file)}
                for item in secret_files(spec)]
    return volumes


def _data_source(name: str, spec: OpenFnJobSpec) -> dict[str, Any]:
    """The run store: the job's claim (fsGroup makes it writable for the runtime user), else
    an emptyDir that lives as long as the pod, bounded like the default claim."""
    if not on_claim(spec):
        return {"emptyDir": {"sizeLimit": DEFAULT_STORAGE_SIZE}}
    return {"persistentVolumeClaim": {"claimName": data_claim_name(name)}}


def _job_source(name: str, spec: OpenFnJobSpec) -> dict[str, Any]:
    if spec.job_from is not None:
        ref = spec.job_from.config_map_key_ref
        return {"name": ref.name, "items": [{"key": ref.key, "path": JOB_FILE}]}
    return {"name": job_configmap_name(name), "items": [{"key": JOB_FILE, "path": JOB_FILE}]}


def _npmrc_source(spec: OpenFnJobSpec) -> dict[str, Any] | None:
    ref = spec.adaptor_install.npmrc_secret_ref if spec.adaptor_install else None
    if ref is None:
        return None
    return secret_file(ref.name, ref.key, adaptor_install.NPMRC_FILE)


def secret_file(secret: str, key: str, path: str) -> dict[str, Any]:
    return {"secretName": secret, "defaultMode": READ_ONLY_FILE_MODE,
            "items": [{"key": key, "path": path, "mode": READ_ONLY_FILE_MODE}]}


def render_cronjob(name: str, namespace: str, spec: OpenFnJobSpec, *,
                   image: str) -> dict[str, Any] | None:
    """CronJob `<name>` for a cron trigger: POSTs to the job's inbox on schedule; else None."""
    cron = spec.trigger.cron
    if cron is None:
        return None
    secret, key = inbox_key_ref(name, spec)
    container = {
        "name": "trigger", "image": spec.image or image,
        "command": ["python", "-m", "osc_runtime", "trigger"],
        "env": [{"name": "OSC_TRIGGER_URL", "value": inbox_url(name, namespace)},
                {"name": "OSC_TRIGGER_KEY_PATH", "value": f"{INBOX_DIR}/{INBOX_FILE}"},
                {"name": "OSC_JOB_NAME", "value": name}],
        "volumeMounts": [{"name": "inbox", "mountPath": INBOX_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": container_security_context(),
        "resources": copy.deepcopy(TRIGGER_RESOURCES),
    }
    pod = {"restartPolicy": "Never", "automountServiceAccountToken": False,
           "enableServiceLinks": False, "securityContext": pod_security_context(),
           "containers": [container],
           "volumes": [{"name": "inbox", "secret": secret_file(secret, key, INBOX_FILE)},
                       {"name": "tmp", "emptyDir": {"sizeLimit": TRIGGER_TMP_SIZE_LIMIT}}]}
    cron_spec: dict[str, Any] = {
        "schedule": cron.schedule,
        "concurrencyPolicy": str(cron.concurrency_policy or "Forbid"),
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": trigger_labels(name)},
                        "spec": {"backoffLimit": 2, "template": {
                            "metadata": {"labels": trigger_labels(name)}, "spec": pod}}},
    }
    if cron.time_zone is not None:
        cron_spec["timeZone"] = cron.time_zone
    if cron.starting_deadline_seconds is not None:
        cron_spec["startingDeadlineSeconds"] = cron.starting_deadline_seconds
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": _metadata(name, namespace, name), "spec": cron_spec}
