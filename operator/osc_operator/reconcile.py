"""One reconciliation of an OpenFnJob: validate → read what it references → render → apply.

Handlers (create, update, resume, and the watches of Secrets, ConfigMaps and Deployments) all
call `reconcile`; it is idempotent, so running it again changes nothing.
"""

from __future__ import annotations

import collections
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from pydantic import ValidationError

from osc_operator import adaptor_install, flow, kube, render, storage
from osc_operator.api import OpenFnJobSpec, parse_spec

# A Service name is a DNS-1035 label (≤ 63); `<name>-inbox` must fit too.
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 57


class InvalidSpec(Exception):
    """The OpenFnJob cannot be reconciled as written: the user must change it."""


class MissingReference(Exception):
    """A referenced Secret, ConfigMap or key is missing: retried when it appears."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.changes: list[str] = []  # what was applied before it was found missing


class ChildFailed(Exception):
    """Writing a child failed (the API refused it, or it belongs to something else)."""

    def __init__(self, message: str, changes: list[str], soon: bool = False) -> None:
        super().__init__(message)
        self.changes = changes  # what was applied before the failure
        self.soon = soon  # a refusal that passes by itself within seconds: retry soon


def child_failed(child: dict[str, Any], error: kube.KubeError, changes: list[str]) -> ChildFailed:
    # Right after the CRD is created, the API server's admission (OwnerReferencesPermission-
    # Enforcement) does not know the OpenFnJob kind for some seconds and refuses children
    # with blockOwnerDeletion: "cannot find RESTMapping". It passes by itself.
    soon = error.status == 403 and "RESTMapping" in str(error)
    return ChildFailed(f"{child['kind']} {child['metadata']['name']}: {error}", changes, soon)


@dataclass
class Outcome:
    available: bool
    changes: list[str] = field(default_factory=list)  # e.g. "Deployment demo created"
    flow_targets: list[str] = field(default_factory=list)  # jobs that run after this one
    warnings: list[str] = field(default_factory=list)  # spec parts kept back, e.g. a PVC shrink


def validate(name: str, spec: dict[str, Any]) -> OpenFnJobSpec:
    if not NAME_PATTERN.match(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidSpec(f"name {name!r}: use at most {MAX_NAME_LENGTH} lowercase letters, "
                          "digits and '-', starting with a letter (it names a Service)")
    try:
        return parse_spec(spec)
    except ValidationError as error:
        raise InvalidSpec(describe(error)) from None


def describe(error: ValidationError) -> str:
    """One line per problem, e.g. `spec.trigger: set exactly one of: webhook, cron, flow`."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(["spec", *(str(part) for part in item["loc"])])
        problems.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def reconcile(client: kube.Kube, body: dict[str, Any], default_image: str,
              graph: flow.FlowGraph) -> Outcome:
    """Bring the OpenFnJob's children in line with its spec (raises InvalidSpec,
    MissingReference). `graph`: the flow jobs, from the operator's indexes."""
    meta = body["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    spec = validate(name, body.get("spec") or {})
    # The job's own edge as this body has it: the index may be an event behind a fresh read.
    edges = collections.ChainMap({name: flow.after_of(body)}, graph.edges(namespace))
    _refuse_cycles(name, edges)
    # Never reported on: no child is likely to exist yet, so create without reading first.
    fresh = "observedGeneration" not in (body.get("status") or {})
    outcome = Outcome(available=False)
    api_key = _ensure_inbox_secret(client, body, name, namespace, spec, outcome, fresh)
    configmap = render.render_job_configmap(name, namespace, spec)
    for child in (configmap, render.render_service(name, namespace)):
        if child is not None:
            _apply(client, body, child, outcome, fresh)
    try:
        checksums = read_checksums(client, name, namespace, spec, api_key)
    except MissingReference as error:
        error.changes = outcome.changes  # the Secret, ConfigMap and Service are made already
        raise
    targets = graph.targets_of(namespace, name)
    if targets:
        keys = {t.name: kube.read_key(client, "Secret", namespace, t.secret, t.key) or ""
                for t in targets}
        checksums.extra["flow"] = flow.wiring_checksum(namespace, targets, keys)
    deployment = render.render_deployment(name, namespace, spec, image=default_image,
                                          checksums=checksums)
    flow.wire(deployment, namespace, targets)
    _sync_claim(client, body, render.render_pvc(name, namespace, spec), outcome, fresh)
    live = _apply(client, body, deployment, outcome, fresh)
    outcome.flow_targets = [target.name for target in targets]
    _sync_cronjob(client, body, name, namespace, spec, default_image, outcome, fresh)
    outcome.available = kube.deployment_available(live)
    return outcome


def _refuse_cycles(name: str, edges: Mapping[str, str | None]) -> None:
    cycle = flow.cycle_through(name, edges)
    if cycle is not None:
        path = " → ".join(f"{job} runs after {after}"
                          for job, after in zip(cycle, [*cycle[1:], cycle[0]]))
        raise InvalidSpec(f"spec.trigger.flow.after: flow cycle ({path}): a job cannot run "
                          "after itself, directly or through other jobs")


def _apply(client: kube.Kube, owner: dict[str, Any], child: dict[str, Any],
           outcome: Outcome, fresh: bool) -> dict[str, Any]:
    kopf.adopt(child, owner=owner)
    try:
        result, live = kube.apply(client, child, create_first=fresh)
    except kube.KubeError as error:
        raise child_failed(child, error, outcome.changes) from None
    if result != "unchanged":
        outcome.changes.append(f"{child['kind']} {child['metadata']['name']} {result}")
    return live


def _sync_claim(client: kube.Kube, owner: dict[str, Any], claim: dict[str, Any] | None,
                outcome: Outcome, fresh: bool) -> None:
    """The run store's claim: created, or grown; never shrunk, never deleted here (the
    OpenFnJob's deletion takes it through its ownerReference)."""
    if claim is None:
        return
    live = None if fresh else client.get(kube.path_of(claim))
    claim, warnings = storage.reconcile_claim(claim, live)
    outcome.warnings += warnings
    status = owner.get("status") or {}
    if status.get("observedGeneration") == owner["metadata"].get("generation"):
        # this spec was reconciled before: a size the claim still lacks was refused then
        # (said once, in a StorageKept Event); asking again would only be refused again
        kept = storage.keep_size(claim, live, "refused before")
        claim = kept[0] if kept else claim
    try:
        _apply(client, owner, claim, outcome, fresh)
    except ChildFailed as error:
        kept = storage.keep_size(claim, live, str(error).split(": ", 1)[-1])
        if kept is None:
            raise
        outcome.warnings.append(kept[1])  # and the rest of the spec still applies
        _apply(client, owner, kept[0], outcome, fresh)


def _ensure_inbox_secret(client: kube.Kube, owner: dict[str, Any], name: str, namespace: str,
                         spec: OpenFnJobSpec, outcome: Outcome, fresh: bool) -> str | None:
    """Create `<name>-inbox` with a random key once; never regenerate an existing key."""
    secret_name, key = render.inbox_key_ref(name, spec)
    if secret_name != render.inbox_secret_name(name):
        return None  # the user brings the key in their own Secret
    existing = None if fresh else kube.read_key(client, "Secret", namespace, secret_name, key)
    if existing:
        return existing
    api_key = secrets.token_urlsafe(32)
    secret = render.render_inbox_secret(name, namespace, api_key)
    kopf.adopt(secret, owner=owner)
    try:
        client.request("POST", kube.path_of(secret, collection=True), secret)
        outcome.changes.append(f"Secret {secret_name} created")
        return api_key
    except kube.KubeError as error:
        if error.status != 409:  # 409: it exists (a concurrent reconcile made it): keep its key
            raise child_failed(secret, error, outcome.changes) from None
    return kube.read_key(client, "Secret", namespace, secret_name, key)


def read_checksums(client: kube.Kube, name: str, namespace: str, spec: OpenFnJobSpec,
                   api_key: str | None) -> render.Checksums:
    """Checksums of what the pods will read; raises MissingReference for a missing source."""
    if spec.job_from is not None:
        ref = spec.job_from.config_map_key_ref
        job = _require(client, "ConfigMap", namespace, ref.name, ref.key, "JobNotFound")
    else:
        job = spec.job or ""
    credential = None
    if spec.credential is not None:
        ref = spec.credential.secret_ref
        credential = _require(client, "Secret", namespace, ref.name, ref.key,
                              "CredentialNotFound")
    if api_key is None:
        secret_name, key = render.inbox_key_ref(name, spec)
        api_key = _require(client, "Secret", namespace, secret_name, key, "CredentialNotFound")
    return render.Checksums(job=render.checksum(job),
                            credential=None if credential is None else render.checksum(credential),
                            api_key=render.checksum(api_key),
                            npmrc=_npmrc_checksum(client, namespace, spec))


def _npmrc_checksum(client: kube.Kube, namespace: str, spec: OpenFnJobSpec) -> str | None:
    """The .npmrc must exist whenever it is named (a typo shows at once, not on the day the
    adaptor changes); only pods with the install init container read it, so only they roll."""
    ref = spec.adaptor_install.npmrc_secret_ref if spec.adaptor_install else None
    if ref is None:
        return None
    npmrc = _require(client, "Secret", namespace, ref.name, ref.key, "CredentialNotFound",
                     "spec.adaptorInstall.npmrcSecretRef")
    return render.checksum(npmrc) if adaptor_install.needs_install(spec.adaptor) else None


def _require(client: kube.Kube, kind: str, namespace: str, name: str, key: str,
             reason: str, field: str | None = None) -> str:
    value = kube.read_key(client, kind, namespace, name, key)
    if value is None:
        named_by = f" (named by {field})" if field else ""
        raise MissingReference(
            reason, f"{kind} {namespace}/{name} with key {key!r} not found{named_by}")
    return value


def _sync_cronjob(client: kube.Kube, owner: dict[str, Any], name: str, namespace: str,
                  spec: OpenFnJobSpec, image: str, outcome: Outcome, fresh: bool) -> None:
    cronjob = render.render_cronjob(name, namespace, spec, image=image)
    if cronjob is not None:
        _apply(client, owner, cronjob, outcome, fresh)
        return
    if owner["metadata"].get("generation") == 1:
        return  # a spec never changed since it was created never asked for a CronJob
    live = client.get(kube.object_path("batch/v1", "cronjobs", namespace, name))
    if live and _owned_by(live, owner):  # the trigger is no longer cron
        kube.delete(client, "batch/v1", "cronjobs", namespace, name)
        outcome.changes.append(f"CronJob {name} deleted")


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
