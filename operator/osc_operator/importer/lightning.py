"""A Lightning project spec (as `openfn pull` writes it) → one workflow OpenFnJob per
workflow, and a Secret stub per credential (the spec names credentials; their values stay in
Lightning, so each stub's comment says what to fill in).

Jobs become steps (`body` → `job`, `adaptor` with `@latest` read as no version), edges keep
their conditions (`on_job_success` → on_success, `on_job_failure` → on_failure,
`js_expression` → js), webhook and cron triggers become the OpenFnJob's trigger. What osc
cannot run is reported: kafka triggers, a second trigger, a disabled trigger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from osc_operator.importer import workflow_spec
from osc_operator.importer.manifests import (CREDENTIAL_KEY, Names, Output, adaptor_spec,
                                              credential_ref, credential_shown, openfnjob,
                                              plural, secret)
from osc_operator.importer.report import Report

CONDITIONS = {"always": "always", "on_job_success": "on_success",
              "on_job_failure": "on_failure", "js_expression": "js"}


def translate(project: dict[str, Any], folder: Path, namespace: str | None,
              report: Report) -> list[Output]:
    names = Names()
    credentials = {key: value if isinstance(value, dict) else {}
                   for key, value in (project.get("credentials") or {}).items()}
    secrets = {key: names.make(f"{value.get('name') or key}-credential", "credential")
               for key, value in credentials.items()}
    outputs = []
    for key, flow in (project.get("workflows") or {}).items():
        output = _workflow(key, flow if isinstance(flow, dict) else {}, folder, secrets,
                           names, namespace, report)
        if output is not None:
            outputs.append(output)
    if secrets:
        outputs.append(_stubs(credentials, secrets, namespace))
    return outputs


def _stubs(credentials: dict[str, dict[str, Any]], secrets: dict[str, str],
           namespace: str | None) -> Output:
    lines = ["Secret stubs: Lightning keeps credential values, the project spec only names them.",
             f"Fill in each Secret's {CREDENTIAL_KEY} with the credential's JSON, then apply:"]
    for key, name in secrets.items():
        owner = credentials[key].get("owner")
        lines.append(f"  {name}: Lightning credential {credentials[key].get('name') or key!r}"
                     + (f" (owner {owner})" if owner else ""))
    documents = [secret(name, namespace, {}) for name in secrets.values()]
    return Output("credentials.stub.yaml", documents, comment="\n".join(lines),
                  summary=f"{len(documents)} Secret stub(s) to fill in "
                          f"({', '.join(secrets.values())})")


def _workflow(key: str, flow: dict[str, Any], folder: Path, secrets: dict[str, str],
              names: Names, namespace: str | None, report: Report) -> Output | None:
    where = f"workflows.{key}"
    jobs = {job_key: job for job_key, job in (flow.get("jobs") or {}).items()
            if isinstance(job, dict)}
    steps = Names(limit=63)
    step_of = {job_key: steps.make(job.get("name") or job_key, "step")
               for job_key, job in jobs.items()}
    trigger, start = _trigger(flow, where, report)
    if trigger is None:
        return None
    built = [_step(job_key, job, step_of[job_key], folder, secrets, f"{where}.jobs.{job_key}",
                   report) for job_key, job in jobs.items()]
    if any(item is None for item in built):
        return None
    edges = [{"from": "trigger", "to": step_of.get(start, str(start))}]
    edges += _edges(flow, step_of, where, report)
    name = names.make(flow.get("name") or key, "workflow")
    spec = workflow_spec.workflow(built, edges, trigger)
    if (problem := workflow_spec.problem(spec)) is not None:
        report.not_translated(where, f"the OpenFnJob would be refused ({problem}): not imported")
        return None
    summary = (f"OpenFnJob {name}: a workflow of {plural(len(built), 'step')} "
               f"({', '.join(item['name'] for item in built)}; {next(iter(trigger))})")
    return Output(f"{name}.yaml", [openfnjob(name, namespace, spec)], summary=summary)


def _trigger(flow: dict[str, Any], where: str, report: Report
             ) -> tuple[dict[str, Any] | None, str | None]:
    """The OpenFnJob's trigger and the job it starts: one trigger per OpenFnJob."""
    triggers = flow.get("triggers") or {}
    starts = [edge for edge in (flow.get("edges") or {}).values()
              if isinstance(edge, dict) and edge.get("source_trigger")]
    if not starts:
        report.not_translated(where, "no edge from a trigger: not imported")
        return None, None
    for extra in starts[1:]:
        report.not_translated(where, f"a second trigger edge ({extra.get('source_trigger')} → "
                              f"{extra.get('target_job')}): an OpenFnJob has one trigger, "
                              "left out (import it as another OpenFnJob by hand)")
    edge = starts[0]
    trigger = triggers.get(edge["source_trigger"]) or {}
    kind = trigger.get("type", edge["source_trigger"])
    if trigger.get("enabled") is False or edge.get("enabled") is False:
        report.not_translated(where, f"the {kind} trigger is disabled in Lightning; the "
                              "OpenFnJob runs once applied (scale it to replicas: 0 to pause)")
    if kind == "webhook":
        return {"webhook": {}}, edge.get("target_job")
    if kind == "cron" and trigger.get("cron_expression"):
        return {"cron": {"schedule": str(trigger["cron_expression"])}}, edge.get("target_job")
    reason = ("kafka triggers are not supported by osc" if kind == "kafka"
              else f"trigger type {kind!r} is not supported")
    report.not_translated(where, f"{reason}: not imported")
    return None, None


def _step(job_key: str, job: dict[str, Any], name: str, folder: Path, secrets: dict[str, str],
          where: str, report: Report) -> dict[str, Any] | None:
    adaptor = adaptor_spec(job.get("adaptor"))
    if adaptor is None:
        report.not_translated(where, f"adaptor {job.get('adaptor')!r} is not an npm package "
                              "name: the workflow was not imported")
        return None
    if str(job.get("adaptor")).endswith("@latest"):
        report.note(where, f"{job.get('adaptor')} → {adaptor} (no version: the runtime's "
                    "bundled one, else npm's latest when the pod starts)")
    body = job.get("body")
    if isinstance(body, dict) and body.get("path"):  # the CLI may keep a body in its own file
        try:
            body = (folder / str(body["path"])).read_text(encoding="utf-8")
        except OSError as error:
            report.not_translated(where, f"cannot read its body ({error.strerror}): the "
                                  "workflow was not imported")
            return None
    credential = job.get("credential")
    known = isinstance(credential, str) and credential in secrets
    if credential is not None and not known:
        report.not_translated(where, f"credential {credential_shown(credential)} is not in the "
                              "project's credentials: imported without it")
    ref = credential_ref(secrets[credential]) if known else None
    return workflow_spec.step(name, adaptor, str(body or "fn(state => state);"), ref)


def _edges(flow: dict[str, Any], step_of: dict[str, str], where: str,
           report: Report) -> list[dict[str, Any]]:
    edges = []
    for key, edge in (flow.get("edges") or {}).items():
        if not isinstance(edge, dict) or edge.get("source_trigger"):
            continue
        condition = CONDITIONS.get(edge.get("condition_type") or "always")
        if condition is None:
            report.not_translated(f"{where}.edges.{key}", f"condition "
                                  f"{edge.get('condition_type')!r} is not known: left out")
            continue
        item = {"from": step_of.get(edge.get("source_job"), str(edge.get("source_job"))),
                "to": step_of.get(edge.get("target_job"), str(edge.get("target_job"))),
                "condition": condition}
        if condition == "js":
            problem = workflow_spec.expression_problem(edge.get("condition_expression"))
            if problem is not None:
                report.not_translated(f"{where}.edges.{key}", f"{problem}: left out")
                continue
            item["expression"] = edge["condition_expression"]
        if edge.get("enabled") is False:
            item["enabled"] = False
        edges.append(item)
    return edges
