"""Flow triggers: which jobs run after which, and the wiring of an upstream job's pods.

A job with `trigger.flow {after: U, on: success|failure}` is a *downstream* of U. Its runtime
does nothing special; U's runtime POSTs its runs' outcomes to the downstream inboxes. So the
operator renders U's Deployment with

- `OSC_FLOW_TARGETS`: JSON list of `{name, on, url, key_path}`, one per downstream job;
- each downstream's inbox key mounted read-only (0400) at `/etc/osc/flow/<down>/api-key`,
  from the downstream's inbox Secret (`optional`, so U's pods start before the downstream's
  key exists; the key file appears once the Secret does);
- a checksum of that wiring (and of the keys) in the pod template, which rolls U's pods.

Everything here is pure: it reads plain OpenFnJob bodies (as listed from the API) and returns
plain data. A job on a cycle (A after B after A, or A after A) is refused, and is never a target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from osc_operator import render
from osc_operator.api import parse_spec

FLOW_DIR = "/etc/osc/flow"
KEY_FILE = "api-key"


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
                "key_path": f"{FLOW_DIR}/{self.name}/{KEY_FILE}"}


def after_of(job: dict[str, Any]) -> str | None:
    """The upstream named by a job's flow trigger, read leniently (the spec may be invalid)."""
    trigger = (job.get("spec") or {}).get("trigger") or {}
    flow = trigger.get("flow") if isinstance(trigger, dict) else None
    after = flow.get("after") if isinstance(flow, dict) else None
    return after if isinstance(after, str) and after else None


def upstream_edges(jobs: list[dict[str, Any]]) -> dict[str, str]:
    """downstream name → upstream name, for every flow job of one namespace."""
    return {job["metadata"]["name"]: after for job in jobs if (after := after_of(job))}


def cycle_through(name: str, edges: dict[str, str]) -> list[str] | None:
    """The jobs of the cycle `name` is on, starting with it (`[a]` when a runs after itself);
    None when following `after` from `name` never comes back to it."""
    path, current = [name], edges.get(name)
    while current is not None and current not in path:
        path.append(current)
        current = edges.get(current)
    if current != name:
        return None
    return path


def chain(start: str | None, edges: dict[str, str]) -> list[str]:
    """`start`, its upstream, that one's upstream, …: the jobs whose wiring or cycle check a
    change of `start`'s downstreams can alter (stops at the first repeat)."""
    found: list[str] = []
    current = start
    while current is not None and current not in found:
        found.append(current)
        current = edges.get(current)
    return found


def downstreams_of(upstream: str, jobs: list[dict[str, Any]]) -> list[str]:
    return sorted(job["metadata"]["name"] for job in jobs if after_of(job) == upstream)


def targets_of(upstream: str, jobs: list[dict[str, Any]]) -> list[FlowTarget]:
    """The valid downstream jobs of `upstream` that are on no cycle, sorted by name."""
    edges = upstream_edges(jobs)
    targets = []
    for job in jobs:
        name = job["metadata"]["name"]
        if edges.get(name) != upstream or job["metadata"].get("deletionTimestamp"):
            continue
        if cycle_through(name, edges) is not None:
            continue  # refused: it would call back into its own upstream chain
        try:
            spec = parse_spec(job.get("spec") or {})
        except ValidationError:
            continue  # refused with InvalidSpec on its own status
        secret, key = render.inbox_key_ref(name, spec)
        targets.append(FlowTarget(name, spec.trigger.flow.on, secret, key))
    return sorted(targets, key=lambda target: target.name)


def wiring_checksum(namespace: str, targets: list[FlowTarget], keys: dict[str, str]) -> str:
    """Changes with the targets and with any downstream key (`keys`: target name → key)."""
    wiring = [target.entry(namespace) | {"key": render.checksum(keys.get(target.name, ""))}
              for target in targets]
    return render.checksum(json.dumps(wiring, sort_keys=True))


def wire(deployment: dict[str, Any], namespace: str, targets: list[FlowTarget]) -> None:
    """Give an upstream job's Deployment (changed in place) its flow targets and their keys."""
    if not targets:
        return
    pod = deployment["spec"]["template"]["spec"]
    runtime = pod["containers"][0]
    value = json.dumps([target.entry(namespace) for target in targets], separators=(",", ":"))
    at = next(i for i, var in enumerate(runtime["env"]) if var["name"] == "OSC_TRIGGER") + 1
    runtime["env"].insert(at, {"name": "OSC_FLOW_TARGETS", "value": value})
    for target in targets:
        volume = f"flow-{target.name}"  # ≤ 62 characters: job names are ≤ 57
        secret = render.secret_file(target.secret, target.key, KEY_FILE)
        pod["volumes"].append({"name": volume, "secret": {**secret, "optional": True}})
        runtime["volumeMounts"].append({"name": volume, "readOnly": True,
                                        "mountPath": f"{FLOW_DIR}/{target.name}"})
