"""The OpenFn microservice's `project.yaml` → OpenFnJobs and credential Secrets.

- A job triggered by `criteria` (a JSON object the message body must contain) → a webhook
  OpenFnJob whose `filter` holds the same match, one path per value; what a path cannot say
  (arrays, empty objects, keys with `.`/`[`/`]`) is reported as not translated.
- A `cron` trigger → `trigger.cron` (its final state carried to the next tick, as before).
- Jobs triggered by `success: <job>` / `failure: <job>` → steps of a workflow that starts
  with the job at the root of their chain (on_success / on_failure edges).
- `credentials` (they hold the values) → Secrets in one private file, never printed.
"""

from __future__ import annotations

import json
from typing import Any

from osc_operator.importer import workflow_spec
from osc_operator.importer.manifests import (Names, Output, adaptor_spec, credential_ref,
                                              credential_shown, openfnjob, secret)
from osc_operator.importer.report import Report

FOLLOWS = {"success": "on_success", "failure": "on_failure"}


def translate(project: dict[str, Any], namespace: str | None, report: Report) -> list[Output]:
    names = Names()
    secrets = {key: names.make(key if key.endswith("credential") else f"{key}-credential",
                               "credential")
               for key in (project.get("credentials") or {})}
    outputs = _secrets(project.get("credentials") or {}, secrets, namespace)
    jobs = {key: job for key, job in (project.get("jobs") or {}).items() if isinstance(job, dict)}
    roots, followers = _classify(jobs, project.get("triggers") or {}, report)
    reached: set[str] = set()
    for key, trigger in roots.items():
        chain = _chain(key, followers, report)
        reached.update(step for step, _, _ in chain)
        output = _job_output(key, chain, jobs, trigger, secrets, names, namespace, report)
        if output is not None:
            outputs.append(output)
    for key in sorted({f for items in followers.values() for f, _ in items} - reached):
        report.not_translated(f"jobs.{key}", "its success/failure trigger names a job that "
                              "is not started by criteria or cron: not imported")
    return outputs


def _secrets(credentials: dict[str, Any], secrets: dict[str, str],
             namespace: str | None) -> list[Output]:
    if not credentials:
        return []
    documents = [secret(secrets[key], namespace, values) for key, values in credentials.items()]
    return [Output("credentials.secret.yaml", documents, private=True,
                   comment="Credential values from project.yaml: keep this file private.",
                   summary=f"{len(documents)} Secret(s) with the credentials' values "
                           f"({', '.join(secrets.values())}; values not shown)")]


def _classify(jobs: dict[str, Any], triggers: dict[str, Any], report: Report
              ) -> tuple[dict[str, dict[str, Any]], dict[str, list[tuple[str, str]]]]:
    """Jobs started by a message or a clock (→ their osc trigger), and for each job the jobs
    that follow it (job, on)."""
    roots: dict[str, dict[str, Any]] = {}
    followers: dict[str, list[tuple[str, str]]] = {}
    for key, job in jobs.items():
        trigger = triggers.get(job.get("trigger"))
        where = f"jobs.{key}"
        if not isinstance(trigger, dict):
            report.not_translated(where, f"trigger {job.get('trigger')!r} is not in triggers: "
                                  "not imported")
        elif "criteria" in trigger:
            roots[key] = {"webhook": _filter(trigger["criteria"], where, report)}
        elif "cron" in trigger:
            roots[key] = {"cron": {"schedule": str(trigger["cron"]).strip()}}
        elif kind := next((kind for kind in FOLLOWS if kind in trigger), None):
            followers.setdefault(str(trigger[kind]), []).append((key, FOLLOWS[kind]))
        else:
            report.not_translated(where, f"trigger {job.get('trigger')!r} has no criteria, "
                                  "cron, success or failure: not imported")
    return roots, followers


def _filter(criteria: Any, where: str, report: Report) -> dict[str, Any]:
    if isinstance(criteria, str):
        try:
            criteria = json.loads(criteria)
        except ValueError:
            report.not_translated(where, "its criteria is not JSON: imported without a filter "
                                  "(every message starts a run)")
            return {}
    if not isinstance(criteria, dict):
        report.not_translated(where, "its criteria is not a JSON object: imported without a "
                              "filter (every message starts a run)")
        return {}
    paths: dict[str, Any] = {}
    _flatten(criteria, "", paths, where, report)
    return {"filter": paths} if paths else {}


def _flatten(value: dict[str, Any], prefix: str, paths: dict[str, Any], where: str,
             report: Report) -> None:
    for key, item in value.items():
        path = f"{prefix}{key}"
        if not key or any(char in key for char in ".[]$") or key != key.strip():
            report.not_translated(where, f"criteria key {path!r} cannot be a filter path: "
                                  "that part of the match was left out")
        elif isinstance(item, dict) and item:
            _flatten(item, f"{path}.", paths, where, report)
        elif isinstance(item, list | dict):
            report.not_translated(where, f"criteria {path!r} matches by containment (an array "
                                  "or empty object), which a filter cannot say: left out")
        else:
            paths[path] = item


def _chain(root: str, followers: dict[str, list[tuple[str, str]]], report: Report
           ) -> list[tuple[str, str | None, str | None]]:
    """(job, upstream, condition) from the root through every job that follows it."""
    chain: list[tuple[str, str | None, str | None]] = [(root, None, None)]
    seen = {root}
    queue = [root]
    while queue:
        upstream = queue.pop(0)
        for job, condition in followers.get(upstream, []):
            if job in seen:
                report.not_translated(f"jobs.{job}", f"following {upstream} makes a cycle: "
                                      "that trigger was left out")
                continue
            seen.add(job)
            chain.append((job, upstream, condition))
            queue.append(job)
    return chain


def _job_output(root: str, chain: list[tuple[str, str | None, str | None]],
                jobs: dict[str, Any], trigger: dict[str, Any], secrets: dict[str, str],
                names: Names, namespace: str | None, report: Report) -> Output | None:
    parts = {}
    for key, _, _ in chain:
        adaptor = adaptor_spec(jobs[key].get("adaptor"))
        if adaptor is None:
            report.not_translated(f"jobs.{key}", f"adaptor {jobs[key].get('adaptor')!r} is not "
                                  f"an npm package name: the chain of {root} was not imported")
            return None
        credential = jobs[key].get("credential")
        known = isinstance(credential, str) and credential in secrets
        if credential is not None and not known:
            report.not_translated(f"jobs.{key}", f"credential {credential_shown(credential)} "
                                  "is not in credentials: imported without it")
        ref = credential_ref(secrets[credential]) if known else None
        parts[key] = (adaptor, str(jobs[key].get("expression") or ""), ref)
    name = names.make(root)
    if len(chain) == 1:
        adaptor, body, ref = parts[root]
        spec = workflow_spec.single_job(adaptor, body, ref, trigger)
        summary = f"OpenFnJob {name} ({next(iter(trigger))})"
    else:
        steps = Names(limit=63)
        step_of = {key: steps.make(key, "step") for key, _, _ in chain}
        spec = workflow_spec.workflow(
            [workflow_spec.step(step_of[key], *parts[key]) for key, _, _ in chain],
            [{"from": "trigger", "to": step_of[root]}] + [
                {"from": step_of[up], "to": step_of[key], "condition": condition}
                for key, up, condition in chain[1:]], trigger)
        summary = (f"OpenFnJob {name}: a workflow of {len(chain)} steps "
                   f"({', '.join(step_of.values())}; {next(iter(trigger))})")
    if (problem := workflow_spec.problem(spec)) is not None:
        report.not_translated(f"jobs.{root}", f"the OpenFnJob would be refused ({problem})")
        return None
    return Output(f"{name}.yaml", [openfnjob(name, namespace, spec)], summary=summary)
