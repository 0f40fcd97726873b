"""Jobs written with lazy state (`$.data`) run in both engines and end exactly as the same job
written with `state => …` does: the same requests reach the server, the same final state."""

from __future__ import annotations

import json

from echo_server import EchoServer
from runtime_server import JOBS, RuntimeProcess, post_run, wait_run

PAYLOAD = {"patient": {"id": "p-17", "name": "Ada"}, "url": "/lookup?id=p-17", "tag": "new",
           "visit": "2024-03-01", "items": [{"n": 1}, {"n": 2}]}


def run_job(tmp_path_factory, engine: str, job: str) -> tuple[dict, list]:
    with EchoServer() as server:
        runtime = RuntimeProcess(tmp_path_factory.mktemp(job) / "data", {
            "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / job),
            "OSC_ADAPTOR": "@openfn/language-http",
            "OSC_CREDENTIAL": json.dumps({"baseUrl": server.url}),
        }).start()
        try:
            with runtime.client() as client:
                run = wait_run(client, post_run(client, PAYLOAD).json()["run_id"])
        finally:
            runtime.stop()
        return run, server.requests


def test_lazy_state_ends_as_the_hand_written_job(tmp_path_factory, engine: str) -> None:
    lazy, lazy_requests = run_job(tmp_path_factory, engine, "lazy_state.js")
    explicit, explicit_requests = run_job(tmp_path_factory, engine, "explicit_state.js")
    assert lazy["status"] == "success", lazy
    assert explicit["status"] == "success", explicit
    assert lazy["final_state"] == explicit["final_state"]
    assert lazy_requests == explicit_requests == [
        ("POST", "/patient", PAYLOAD["patient"]),
        ("GET", "/lookup?id=p-17", None),
        ("POST", "/summary", {"name": "Ada", "tags": ["new", "fixed"], "note": "visit on 2024-03-01"}),
        ("POST", "/items", {"n": 1}),
        ("POST", "/items", {"n": 2}),
    ]
    final = lazy["final_state"]
    assert final["data"]["posted"]["received"] == PAYLOAD["patient"]
    assert final["data"]["got"]["path"] == "/lookup?id=p-17"
    assert (final["local"], final["text"], final["object"]) == ("a local $", "$.data", {"$": 1})
