"""Flow triggers: which jobs run after which, and the wiring of an upstream job's pods.

A job with `trigger.flow {after: U, on: success|failure}` is a *downstream* of U. Its runtime
does nothing special; U's runtime POSTs its runs' outcomes to the downstream inboxes. The
wiring never touches U's Deployment, so a downstream appearing, changing or going away never
restarts U's pods (and never drops what their store holds). Every job's pods mount one
projected volume at `/etc/osc/flow` from two objects the operator writes for U once U has
downstreams (both `optional`, so the pod template is the same with or without them):

- ConfigMap `<U>-flow`, key `targets.json`: JSON list of `{name, on, url, key_path}`, one per
  downstream job (OSC_FLOW_TARGETS_PATH; the runtime reads it again when it changes);
- Secret `<U>-flow-keys`: a copy of each downstream's inbox key, under the downstream's name
  (`/etc/osc/flow/<down>`, mode 0400). A Secret source inside a projected volume cannot name
  other Secrets without changing the template, hence the copy, owned by U.

The kubelet refreshes both files in running pods (no subPath).

Everything here is pure: it reads plain OpenFnJob bodies and returns plain data. The operator
keeps what it needs of every flow job in two kopf indexes (handlers.py), so a reconciliation
reads the flow graph from memory instead of listing every OpenFnJob. A job on a cycle
(A after B after A, or A after A) is refused, and is never a target.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from osc_operator import render
from osc_operator.api import parse_spec

FLOW_DIR, TARGETS_FILE = render.FLOW_DIR, render.FLOW_TARGETS_FILE
configmap_name, keys_secret_name = render.flow_configmap_name, render.flow_keys_secret_name


@dataclass(frozen=True)
class FlowTarget:
    """A downstream job of this one: when to call it, and the Secret key of its inbox."""

    name: str
    on: str
    secret: str
    key: str

    def entry(self, namespace: str) -> dict[str, str]:
        """The target as the runtime reads it from OSC_FLOW_TARGETS."""
        return {"name": self.name, "on": self.on, "url": render.inbox_url(self.name, namespace),
                "key_path": f"{FLOW_DIR}/{self.name}"}  # a DNS label: never targets.json


def after_of(job: dict[str, Any]) -> str | None:
    """The upstream named by a job's flow trigger, read leniently (the spec may be invalid)."""
    trigger = (job.get("spec") or {}).get("trigger") or {}
    flow = trigger.get("flow") if isinstance(trigger, dict) else None
    after = flow.get("after") if isinstance(flow, dict) else None
    return after if isinstance(after, str) and after else None


def upstream_edges(jobs: list[dict[str, Any]]) -> dict[str, str]:
    """downstream name → upstream name, for every flow job of one namespace."""
    return {job["metadata"]["name"]: after for job in jobs if (after := after_of(job))}


def cycle_through(name: str, edges: Mapping[str, str]) -> list[str] | None:
    """The jobs of the cycle `name` is on, starting with it (`[a]` when a runs after itself);
    None when following `after` from `name` never comes back to it."""
    path, current = [name], edges.get(name)
    while current is not None and current not in path:
        path.append(current)
        current = edges.get(current)
    if current != name:
        return None
    return path


def chain(start: str | None, edges: Mapping[str, str]) -> list[str]:
    """`start`, its upstream, that one's upstream, …: the jobs whose wiring or cycle check a
    change of `start`'s downstreams can alter (stops at the first repeat)."""
    found: list[str] = []
    current = start
    while current is not None and current not in found:
        found.append(current)
        current = edges.get(current)
    return found


@dataclass(frozen=True)
class FlowLink:
    """What the jobs around a flow job need of it: its upstream, and the target it offers that
    upstream (None when it is refused for an invalid spec or is being deleted)."""

    name: str
    after: str
    target: FlowTarget | None


def link_of(job: dict[str, Any]) -> FlowLink | None:
    """The flow part of a job's body; None for a job without a flow trigger."""
    after = after_of(job)
    if after is None:
        return None
    name = job["metadata"]["name"]
    if job["metadata"].get("deletionTimestamp"):
        return FlowLink(name, after, None)
    try:
        spec = parse_spec(job.get("spec") or {})
    except ValidationError:
        return FlowLink(name, after, None)  # refused with InvalidSpec on its own status
    secret, key = render.inbox_key_ref(name, spec)
    return FlowLink(name, after, FlowTarget(name, spec.trigger.flow.on, secret, key))


class FlowGraph:
    """The flow jobs of every namespace, as two indexes keep them (values are collections,
    one value per job): `upstreams` (namespace, job) → the job's upstream name, and
    `downstreams` (namespace, upstream) → the FlowLink of each job that runs after it.

    Reading costs a few lookups, whatever the number of jobs. The indexes change under the
    operator's event loop while handlers read them from threads: every read copies a value
    collection in one C-level call (`list`, `next`), which the GIL keeps whole."""

    def __init__(self, upstreams: Mapping[tuple[str, str], Collection[str]],
                 downstreams: Mapping[tuple[str, str], Collection[FlowLink]]) -> None:
        self.upstreams, self.downstreams = upstreams, downstreams

    def edges(self, namespace: str) -> Mapping[str, str]:
        """downstream → upstream within one namespace, looked up on demand."""
        return _IndexedEdges(self.upstreams, namespace)

    def links_after(self, namespace: str, upstream: str) -> list[FlowLink]:
        return list(self.downstreams.get((namespace, upstream), ()))

    def downstreams_of(self, namespace: str, upstream: str) -> list[str]:
        return sorted(link.name for link in self.links_after(namespace, upstream))

    def targets_of(self, namespace: str, upstream: str) -> list[FlowTarget]:
        """The valid downstream jobs of `upstream` that are on no cycle, sorted by name."""
        edges = self.edges(namespace)
        targets = [link.target for link in self.links_after(namespace, upstream)
                   if link.target is not None
                   and cycle_through(link.name, edges) is None]  # it would call back into it
        return sorted(targets, key=lambda target: target.name)


class _IndexedEdges(Mapping[str, str]):
    def __init__(self, index: Mapping[tuple[str, str], Collection[str]], namespace: str) -> None:
        self.index, self.namespace = index, namespace

    def __getitem__(self, name: str) -> str:
        upstreams = list(self.index.get((self.namespace, name), ()))
        if not upstreams:
            raise KeyError(name)
        return upstreams[0]

    def __iter__(self) -> Iterator[str]:
        return iter([name for namespace, name in list(self.index) if namespace == self.namespace])

    def __len__(self) -> int:
        return len(list(iter(self)))


def graph_of(namespace: str, jobs: Iterable[dict[str, Any]]) -> FlowGraph:
    """The graph of plain job bodies of one namespace, shaped as the operator's indexes are."""
    upstreams: dict[tuple[str, str], list[str]] = {}
    downstreams: dict[tuple[str, str], list[FlowLink]] = {}
    for job in jobs:
        if (link := link_of(job)) is not None:
            upstreams.setdefault((namespace, link.name), []).append(link.after)
            downstreams.setdefault((namespace, link.after), []).append(link)
    return FlowGraph(upstreams, downstreams)


def render_targets(upstream: str, namespace: str,
                   targets: list[FlowTarget]) -> dict[str, Any]:
    """ConfigMap `<upstream>-flow`: the targets the upstream's runtime hands its outcomes to."""
    value = json.dumps([target.entry(namespace) for target in targets], separators=(",", ":"))
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": configmap_name(upstream), "namespace": namespace,
                         "labels": render.labels(upstream)},
            "data": {TARGETS_FILE: value}}


def render_keys(upstream: str, namespace: str, keys: dict[str, str]) -> dict[str, Any]:
    """Secret `<upstream>-flow-keys`: downstream name → its inbox key (known keys only)."""
    data = {name: base64.b64encode(key.encode()).decode() for name, key in keys.items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": keys_secret_name(upstream), "namespace": namespace,
                         "labels": render.labels(upstream)},
            "data": data}
