"""The Argo CD health check for OpenFnJob, run by a real Lua interpreter (lupa, Lua 5.4)."""

from pathlib import Path

import pytest
from lupa import LuaRuntime

SCRIPT = Path(__file__).parents[2] / "examples/gitops/argocd/openfnjob-health.lua"


def health(obj: dict) -> dict:
    lua = LuaRuntime(unpack_returned_tuples=True)
    # Argo CD runs the script with the object bound to the global `obj`.
    check = lua.eval("function(obj) " + SCRIPT.read_text() + " end")
    result = check(to_lua(lua, obj))
    return {"status": result["status"], "message": result["message"]}


def to_lua(lua: LuaRuntime, value):
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    return value


def job(generation=2, observed=2, ready=None, reason="", message=""):
    obj = {"metadata": {"name": "hello", "generation": generation}}
    if ready is not None:
        condition = {"type": "Ready", "status": ready, "reason": reason, "message": message}
        obj["status"] = {"observedGeneration": observed, "conditions": [condition]}
    return obj


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (job(ready="True", reason="Available", message="1/1 replicas ready"), "Healthy"),
        (job(ready="False", reason="Progressing", message="0/1 ready"), "Progressing"),
        (job(ready="False", reason="InvalidSpec", message="bad cron"), "Degraded"),
        (job(ready="False", reason="CredentialNotFound", message="no secret"), "Degraded"),
        (job(ready="False", reason="AdaptorInstallFailed", message="E404"), "Degraded"),
        (job(ready="False", reason="JobNotFound", message="no configmap"), "Degraded"),
        (job(ready="False", reason="ChildFailed", message="forbidden"), "Degraded"),
        (job(ready="Unknown", reason="Reconciling"), "Progressing"),
        (job(ready=None), "Progressing"),
        # an old Ready=True from before the latest spec change is not health
        (job(generation=3, observed=2, ready="True", reason="Available"), "Progressing"),
    ],
)
def test_health_follows_the_ready_condition(obj, status):
    assert health(obj)["status"] == status


def test_stalled_is_degraded_whatever_the_ready_reason():
    obj = job(ready="False", reason="SomethingNew", message="0/1 ready")
    obj["status"]["conditions"].append(
        {"type": "Stalled", "status": "True", "reason": "SomethingNew", "message": "stuck"})
    assert health(obj) == {"status": "Degraded", "message": "stuck"}


def test_message_is_the_conditions_message():
    result = health(job(ready="False", reason="InvalidSpec", message="spec.trigger.cron.schedule"))
    assert result["message"] == "spec.trigger.cron.schedule"
