"""Flow hand-offs in the store, without HTTP: what is held, released, dropped and recovered.

A real RunStore and TriggerStore on one database (SQLite, then PostgreSQL); results are built by hand here because the
point is the bookkeeping around an outcome, not running a job (the live tests do that).
"""

from __future__ import annotations

import json

import pytest

from osc_runtime.dispatcher import MAX_INTERRUPTED_ATTEMPTS, Dispatcher
from osc_runtime.engines.base import Outcome, RunResult
from osc_runtime.flow import FlowSender
from osc_runtime.run_events import RunEvents
from osc_runtime.settings import SettingsError, load
from osc_runtime.store import Status
from osc_runtime.triggers import TriggerSettings, load_trigger_settings

TARGETS = [{"name": "load", "on": "success", "url": "http://load.ns.svc/inbox", "key_path": "/k"},
           {"name": "alert", "on": "failure", "url": "http://alert.ns.svc/inbox", "key_path": "/k"}]


class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores(backend, clock: Clock):
    runs = backend.runs(clock)
    triggers = backend.triggers(runs, clock)
    sender = FlowSender("fetch", TriggerSettings(flow_targets=json.dumps(TARGETS)), triggers,
                        {"token": "flow-unit-secret"})
    return runs, triggers, sender


def test_a_finished_run_hands_off_to_the_matching_target_only(stores) -> None:
    runs, triggers, sender = stores
    runs.add(json.dumps({"n": 1, "t": "flow-unit-secret"}))
    run = runs.claim_next()
    failed = RunResult(Outcome.FAILED, 1, "boom")
    sender.hold(run, failed)
    assert triggers.due() == [] and runs.get(run.run_id) is not None  # held: not sent yet
    runs.finish(run.run_id, Status.FAILED, outcome="failed", exit_code=1, error="boom",
                final_state=None)
    sender.release(run, finished=True)
    [callback] = triggers.due()
    assert (callback.target, callback.on_outcome, callback.status) == ("alert", "failure", "pending")
    body = json.loads(callback.body)
    assert body == {"error": "boom", "outcome": "failed", "run_id": run.run_id, "attempt": 1,
                    "input": {"n": 1, "t": "***"}}


def test_an_attempt_queued_again_hands_off_nothing(stores) -> None:
    runs, triggers, sender = stores
    runs.add("{}")
    run = runs.claim_next()
    sender.hold(run, RunResult(Outcome.FAILED, 1, "first try"))
    runs.requeue(run.run_id, outcome="failed", error="first try")
    sender.release(run, finished=False)
    assert triggers.due() == [] and triggers.held() == []


def test_recovery_settles_what_a_crash_left_held(stores) -> None:
    runs, triggers, sender = stores
    runs.add("{}")
    runs.add("{}")
    done, interrupted = runs.claim_next(), runs.claim_next()
    sender.hold(done, RunResult(Outcome.SUCCESS, 0, None, {"data": {"ok": True}}))
    runs.finish(done.run_id, Status.SUCCESS, outcome="success", exit_code=0, error=None,
                final_state='{"data": {"ok": true}}')
    sender.hold(interrupted, RunResult(Outcome.SUCCESS, 0, None, {"data": {}}))
    runs.requeue(interrupted.run_id, outcome="crashed")  # what the dispatcher's recovery does
    # the process died here, before either release
    sender.recover(runs)
    [callback] = triggers.due()
    assert callback.run_id == done.run_id and json.loads(callback.body) == {"data": {"ok": True}}
    assert triggers.held() == []


def test_a_run_that_dies_in_recovery_hands_off_to_the_failure_flow(stores, clock: Clock) -> None:
    runs, triggers, sender = stores
    runs.add(json.dumps({"n": 7}))
    for _ in range(MAX_INTERRUPTED_ATTEMPTS):  # each claim is an attempt a crash interrupted
        run = runs.claim_next()
        runs.requeue(run.run_id, outcome="crashed")
    runs.claim_next()  # the last attempt: left `running` by one more crash
    clock.now += 60  # and its lease (PostgreSQL) expires: no one renews it
    dispatcher = Dispatcher(load(job="x", adaptor="@openfn/language-common", auth="none"), runs)
    dispatcher.events = RunEvents(runs=runs, triggers=triggers, flow=sender)
    dispatcher.recover()
    dead = runs.get(run.run_id)
    assert dead.status is Status.DEAD and "interrupted" in dead.error
    [callback] = triggers.due()
    assert (callback.target, callback.on_outcome) == ("alert", "failure")
    assert json.loads(callback.body)["input"] == {"n": 7}


@pytest.mark.parametrize("value, message", [
    ("{", "not valid JSON"),
    ('{"name": "x"}', "must be a JSON list"),
    ('[{"name": "x", "on": "sometimes", "url": "http://x", "key_path": "/k"}]', "0.on"),
    ('[{"name": "x", "on": "success", "url": "ftp://x", "key_path": "/k"}]', "0.url"),
    (json.dumps(TARGETS + TARGETS[:1]), "only once"),
])
def test_bad_flow_targets_name_the_variable(monkeypatch, value: str, message: str) -> None:
    monkeypatch.setenv("OSC_FLOW_TARGETS", value)
    with pytest.raises(SettingsError, match=f"^OSC_FLOW_TARGETS: .*{message}"):
        load_trigger_settings()
