"""Pure builders for a workflow OpenFnJob (spec.steps): the plan file, the step files, and the
volumes that put every step's expression and credential in the runtime's pod.

The job ConfigMap `<name>-job` holds the plan (`workflow.json`) and the inline steps
(`step-<name>.js`); a step's `jobFrom` ConfigMap key is projected beside them under the same
kind of name, so the runtime reads one folder. Each step's credential Secret is projected
read-only as its own file (`<step>.json`): a step's file is only ever given to that step.
"""

from __future__ import annotations

import json
from typing import Any

from osc_operator.api import OpenFnJobSpec
from osc_operator.api_workflow import WorkflowStep

JOB_DIR, PLAN_FILE = "/etc/osc/job", "workflow.json"
CREDENTIAL_DIR = "/etc/osc/credential"
READ_ONLY_FILE_MODE = 0o400


def step_file(step: WorkflowStep) -> str:
    return f"step-{step.name}.js"


def credential_file(step: WorkflowStep) -> str:
    return f"{step.name}.json"


def plan(spec: OpenFnJobSpec) -> dict[str, Any]:
    """The plan the runtime executes (OSC_WORKFLOW_PATH): files relative to the plan's folder."""
    steps = []
    for step in spec.steps or []:
        item: dict[str, Any] = {"name": step.name, "adaptor": step.adaptor,
                                "file": step_file(step)}
        if step.credential is not None:
            # Relative to the plan's folder (JOB_DIR): the same layout works outside a pod.
            item["credential"] = f"../{CREDENTIAL_DIR.rsplit('/', 1)[1]}/{credential_file(step)}"
        steps.append(item)
    edges = [{"from": edge.source, "to": edge.target, "condition": str(edge.condition),
              **({"expression": edge.expression} if edge.expression is not None else {}),
              "enabled": edge.enabled} for edge in spec.edges or []]
    return {"steps": steps, "edges": edges}


def plan_text(spec: OpenFnJobSpec) -> str:
    return json.dumps(plan(spec), indent=2, sort_keys=True) + "\n"


def configmap_data(spec: OpenFnJobSpec) -> dict[str, str]:
    data = {PLAN_FILE: plan_text(spec)}
    data.update({step_file(step): step.job for step in spec.steps or [] if step.job is not None})
    return data


def job_volume(configmap: str, spec: OpenFnJobSpec) -> dict[str, Any]:
    """The plan and every step's expression in one read-only folder."""
    own = [{"key": key, "path": key} for key in configmap_data(spec)]
    sources = [{"configMap": {"name": configmap, "items": own}}]
    for step in spec.steps or []:
        if step.job_from is not None:
            ref = step.job_from.config_map_key_ref
            sources.append({"configMap": {"name": ref.name, "items": [
                {"key": ref.key, "path": step_file(step)}]}})
    return {"name": "job", "projected": {"defaultMode": READ_ONLY_FILE_MODE, "sources": sources}}


def credential_volume(spec: OpenFnJobSpec) -> dict[str, Any] | None:
    """Each step's credential as its own 0400 file; None when no step has one."""
    sources = [{"secret": {"name": step.credential.secret_ref.name, "items": [
        {"key": step.credential.secret_ref.key, "path": credential_file(step),
         "mode": READ_ONLY_FILE_MODE}]}}
        for step in spec.steps or [] if step.credential is not None]
    if not sources:
        return None
    return {"name": "credential",
            "projected": {"defaultMode": READ_ONLY_FILE_MODE, "sources": sources}}


def referenced(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret the steps of a raw spec read."""
    refs = []
    for step in spec.get("steps") or []:
        job = ((step or {}).get("jobFrom") or {}).get("configMapKeyRef") or {}
        secret = ((step or {}).get("credential") or {}).get("secretRef") or {}
        refs += [("ConfigMap", job["name"])] if job.get("name") else []
        refs += [("Secret", secret["name"])] if secret.get("name") else []
    return refs
