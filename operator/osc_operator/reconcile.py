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

from osc_operator import (adaptor_install, autoscaling, flow, kube, policies, render, storage,
                          workflow_render)
from osc_operator.webhook_render import secret_files
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
    # (reason, message) of Warnings for this spec, e.g. a PVC shrink kept back
    warnings: list[tuple[str, str]] = field(default_factory=list)
    durable: tuple[bool, str, str] | None = None  # the Durable condition: status, reason, text
    job_checksum: str | None = None  # of the job the current pods run
    keda: bool | None = None  # the autoscaler made: KEDA's (True), an HPA (False), none (None)
    fresh: bool = False  # the job was never reported on: its children were just created


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
              graph: flow.FlowGraph, *, network_policy: bool = False) -> Outcome:
    """Bring the OpenFnJob's children in line with its spec (raises InvalidSpec,
    MissingReference). `graph`: the flow jobs, from the operator's indexes;
    `network_policy`: give the job a NetworkPolicy admitting only its inbox port."""
    meta = body["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    spec = validate(name, body.get("spec") or {})
    # The job's own edge as this body has it: the index may be an event behind a fresh read.
    edges = collections.ChainMap({name: flow.after_of(body)}, graph.edges(namespace))
    _refuse_cycles(name, edges)
    # Never reported on: no child is likely to exist yet, so create without reading first.
    fresh = "observedGeneration" not in (body.get("status") or {})
    outcome = Outcome(available=False, fresh=fresh)
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
    outcome.job_checksum = checksums.job
    targets = graph.targets_of(namespace, name)
    _sync_flow(client, body, targets, outcome, fresh)
    effective = _place_store(client, body, spec, outcome, fresh)
    deployment = render.render_deployment(name, namespace, effective, image=default_image,
                                          checksums=checksums)
    live = _apply(client, body, deployment, outcome, fresh)
    if network_policy:
        _apply(client, body, policies.render_network_policy(name, namespace), outcome, fresh)
    _sync_optional(client, body, policies.render_disruption_budget(name, namespace, spec),
                   ("policy/v1", "poddisruptionbudgets"), outcome, fresh)
    _sync_autoscaler(client, body, spec, outcome, fresh)
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


def _sync_flow(client: kube.Kube, owner: dict[str, Any], targets: list[flow.FlowTarget],
               outcome: Outcome, fresh: bool) -> None:
    """The upstream's `<name>-flow` ConfigMap and `<name>-flow-keys` Secret (flow.py), written
    once it has downstreams and kept (emptied) after the last one goes."""
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    configmap = flow.render_targets(name, namespace, targets)
    if not targets and (fresh or client.get(kube.path_of(configmap)) is None):
        return  # never had a downstream: nothing to write
    keys = {target.name: key for target in targets
            if (key := kube.read_key(client, "Secret", namespace, target.secret, target.key))}
    # The keys first: a target whose key file is not there yet is retried by the runtime.
    _apply(client, owner, flow.render_keys(name, namespace, keys), outcome, fresh)
    _apply(client, owner, configmap, outcome, fresh)


def _place_store(client: kube.Kube, owner: dict[str, Any], spec: OpenFnJobSpec,
                 outcome: Outcome, fresh: bool) -> OpenFnJobSpec:
    """Decide where the run store lives (storage.py), write the claim it needs, and return
    the spec with `storage` filled in as placed."""
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    live_claim = _live_claim(client, name, namespace, spec, fresh)
    placement = storage.place(spec, live_claim is not None,
                              lambda: storage.default_class(client))
    outcome.durable = (placement.durable, placement.reason,
                       placement.message.replace("<name>", name))
    _sync_claim(client, owner, render.render_pvc(name, namespace, placement.spec), live_claim,
                outcome, fresh)
    return placement.spec


def _live_claim(client: kube.Kube, name: str, namespace: str, spec: OpenFnJobSpec,
                fresh: bool) -> dict[str, Any] | None:
    """The job's claim as it is, where it can matter: to grow it, or to keep using it."""
    if fresh or (spec.storage is not None and (spec.storage.ephemeral or spec.storage.postgres)):
        return None
    if spec.storage is None and spec.replicas > 1:
        return None  # an emptyDir per pod whatever exists
    path = kube.object_path("v1", "persistentvolumeclaims", namespace,
                            render.data_claim_name(name))
    return client.get(path)


def _sync_claim(client: kube.Kube, owner: dict[str, Any], claim: dict[str, Any] | None,
                live: dict[str, Any] | None, outcome: Outcome, fresh: bool) -> None:
    """The run store's claim: created, or grown; never shrunk, never deleted here (the
    OpenFnJob's deletion takes it through its ownerReference)."""
    if claim is None:
        return
    claim, warnings = storage.reconcile_claim(claim, live)
    outcome.warnings += [(storage.KEPT_REASON, warning) for warning in warnings]
    status = owner.get("status") or {}
    if status.get("observedGeneration") == owner["metadata"].get("generation"):
        # this spec was reconciled before: a size the claim still lacks was refused then
        # (said once, in a StorageKept Event); asking again would only be refused again
        kept = storage.keep_size(claim, live, "refused before")
        claim = kept[0] if kept else claim
    try:
        _apply(client, owner, claim, outcome, fresh or live is None)
    except ChildFailed as error:
        kept = storage.keep_size(claim, live, str(error).split(": ", 1)[-1])
        if kept is None:
            raise
        outcome.warnings.append((storage.KEPT_REASON, kept[1]))  # the rest still applies
        _apply(client, owner, kept[0], outcome, fresh or live is None)


def _ensure_inbox_secret(client: kube.Kube, owner: dict[str, Any], name: str, namespace: str,
                         spec: OpenFnJobSpec, outcome: Outcome, fresh: bool) -> str | None:
    """Create `<name>-inbox` with a random key once; never regenerate an existing key, and
    never adopt one this job did not make (its key would be someone else's choice)."""
    secret_name, key = render.inbox_key_ref(name, spec)
    if secret_name != render.inbox_secret_name(name) or not render.inbox_authenticated(spec):
        return None  # the user brings the key in their own Secret, or asked for none
    api_key = secrets.token_urlsafe(32)
    secret = render.render_inbox_secret(name, namespace, api_key)
    kopf.adopt(secret, owner=owner)
    existing = None if fresh else client.get(kube.path_of(secret))
    if existing is None:
        try:
            client.request("POST", kube.path_of(secret, collection=True), secret)
            outcome.changes.append(f"Secret {secret_name} created")
            return api_key
        except kube.KubeError as error:
            if error.status != 409:  # 409: it exists (made concurrently, or by someone else)
                raise child_failed(secret, error, outcome.changes) from None
        existing = client.get(kube.path_of(secret)) or {}
    try:
        kube.refuse_foreign(existing, secret)
    except kube.KubeError as error:
        raise ChildFailed(f"Secret {secret_name}: {error}", outcome.changes) from None
    return kube.secret_value(existing, key)


def read_checksums(client: kube.Kube, name: str, namespace: str, spec: OpenFnJobSpec,
                   api_key: str | None) -> render.Checksums:
    """Checksums of what the pods will read; raises MissingReference for a missing source."""
    if spec.job_from is not None:
        ref = spec.job_from.config_map_key_ref
        job = _require(client, "ConfigMap", namespace, ref.name, ref.key, "JobNotFound")
    elif spec.is_workflow:
        job = workflow_render.plan_text(spec)
    else:
        job = spec.job or ""
    credential = None
    if spec.credential is not None:
        ref = spec.credential.secret_ref
        credential = _require(client, "Secret", namespace, ref.name, ref.key,
                              "CredentialNotFound")
    if api_key is None and render.inbox_authenticated(spec):
        secret_name, key = render.inbox_key_ref(name, spec)
        api_key = _require(client, "Secret", namespace, secret_name, key, "CredentialNotFound")
    return render.Checksums(job=render.checksum(job),
                            credential=None if credential is None else render.checksum(credential),
                            api_key=None if api_key is None else render.checksum(api_key),
                            npmrc=_npmrc_checksum(client, namespace, spec),
                            extra={**_step_checksums(client, namespace, spec),
                                   **_webhook_checksums(client, namespace, spec)})


def _step_checksums(client: kube.Kube, namespace: str, spec: OpenFnJobSpec) -> dict[str, str]:
    """Each workflow step's expression and credential: a change to one rolls the pods, a
    missing one waits (JobNotFound, CredentialNotFound) naming the step."""
    sums = {}
    for index, step in enumerate(spec.steps or []):
        field = f"spec.steps[{index}]"
        if step.job_from is not None:
            ref = step.job_from.config_map_key_ref
            job = _require(client, "ConfigMap", namespace, ref.name, ref.key, "JobNotFound",
                           f"{field}.jobFrom")
        else:
            job = step.job or ""
        sums[f"step-{step.name}-job"] = render.checksum(job)
        if step.credential is not None:
            ref = step.credential.secret_ref
            sums[f"step-{step.name}-credential"] = render.checksum(_require(
                client, "Secret", namespace, ref.name, ref.key, "CredentialNotFound",
                f"{field}.credential"))
    return sums


def _webhook_checksums(client: kube.Kube, namespace: str, spec: OpenFnJobSpec) -> dict[str, str]:
    """The Basic users and signing secrets: a changed one rolls the pods, a missing one waits."""
    return {item.volume: render.checksum(_require(client, "Secret", namespace, item.ref.name,
                                                  item.ref.key, "CredentialNotFound", item.field))
            for item in secret_files(spec)}


def _npmrc_checksum(client: kube.Kube, namespace: str, spec: OpenFnJobSpec) -> str | None:
    """The .npmrc must exist whenever it is named (a typo shows at once, not on the day the
    adaptor changes); only pods with the install init container read it, so only they roll."""
    ref = spec.adaptor_install.npmrc_secret_ref if spec.adaptor_install else None
    if ref is None:
        return None
    npmrc = _require(client, "Secret", namespace, ref.name, ref.key, "CredentialNotFound",
                     "spec.adaptorInstall.npmrcSecretRef")
    installs = any(adaptor_install.needs_install(adaptor) for adaptor in spec.adaptors())
    return render.checksum(npmrc) if installs else None


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
    _sync_optional(client, owner, render.render_cronjob(name, namespace, spec, image=image),
                   ("batch/v1", "cronjobs"), outcome, fresh)


def _sync_optional(client: kube.Kube, owner: dict[str, Any], child: dict[str, Any] | None,
                   kind: tuple[str, str], outcome: Outcome, fresh: bool) -> None:
    """A child only some specs have (CronJob, PodDisruptionBudget): applied, or deleted when
    the spec no longer asks for it."""
    if child is not None:
        _apply(client, owner, child, outcome, fresh)
        return
    if owner["metadata"].get("generation") == 1:
        return  # a spec never changed since it was created never asked for it
    _delete_owned(client, owner, kind, outcome)


def _delete_owned(client: kube.Kube, owner: dict[str, Any], kind: tuple[str, str],
                  outcome: Outcome) -> None:
    """Delete the child `<name>` of this kind (api version, plural) if this job owns it."""
    meta = owner["metadata"]
    api_version, plural = kind
    live = client.get(kube.object_path(api_version, plural, meta["namespace"], meta["name"]))
    if live and _owned_by(live, owner):
        kube.delete(client, api_version, plural, meta["namespace"], meta["name"])
        outcome.changes.append(f"{live.get('kind', plural)} {meta['name']} deleted")


def _sync_autoscaler(client: kube.Kube, owner: dict[str, Any], spec: OpenFnJobSpec,
                     outcome: Outcome, fresh: bool) -> None:
    """spec.autoscaling's objects (autoscaling.py): KEDA's where KEDA is installed, else an
    HPA. What is not wanted now goes, even for an unchanged spec: KEDA installed since (the
    HPA gives way to the ScaledObject), or autoscaling dropped from the spec."""
    meta = owner["metadata"]
    if spec.autoscaling is None and (fresh or meta.get("generation") == 1):
        return  # never asked for
    keda = autoscaling.keda_installed(client)
    wanted = autoscaling.render_autoscaler(meta["name"], meta["namespace"], spec, keda)
    if spec.autoscaling is not None:
        outcome.keda = keda
        if not keda:
            outcome.warnings.append((autoscaling.NO_KEDA_REASON, autoscaling.NO_KEDA_MESSAGE))
    for child in wanted:
        _apply(client, owner, child, outcome, fresh)
    if fresh:
        return  # nothing else of it exists yet
    kinds = [(autoscaling.HPA_GROUP_VERSION, autoscaling.HPA_PLURAL)]
    if keda:  # without KEDA's CRDs, none of its objects can exist
        kinds += [(autoscaling.KEDA_GROUP_VERSION, plural)
                  for plural in autoscaling.KEDA_KINDS.values()]
    made = {(child["apiVersion"], kube.PLURALS[child["kind"]]) for child in wanted}
    for kind in kinds:
        if kind not in made:
            _delete_owned(client, owner, kind, outcome)


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
