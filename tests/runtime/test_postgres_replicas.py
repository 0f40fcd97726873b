"""Two real runtime processes on one PostgreSQL database (the warm engine, a short lease): the
work is shared and done once, a SIGKILLed replica's runs are run again by the other, a database
that goes away makes the inbox answer 503 until it is back, idempotency keys hold across
replicas, and a flow hand-off is delivered once."""

from __future__ import annotations

import collections
import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from postgres_server import PostgresServer, wait_until_up
from runtime_server import JOBS, RuntimeProcess, post_run, wait_run

LEASE = "3"


def replica(tmp_path: Path, name: str, url: str, **env: str) -> RuntimeProcess:
    return RuntimeProcess(tmp_path / name, {
        "OSC_ENGINE": "warm", "OSC_DATABASE_URL": url, "OSC_LEASE_SECONDS": LEASE,
        "OSC_JOB_PATH": str(JOBS / "behaviours.js"), "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_CONCURRENCY": "4", "OSC_JOB_NAME": "replicated", **env,
    })


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str) -> Iterator[tuple[RuntimeProcess, RuntimeProcess]]:
    one = replica(tmp_path, "one", postgres_url).start()
    two = replica(tmp_path, "two", postgres_url).start()
    yield one, two
    for runtime in (one, two):
        runtime.stop()


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def wait_all_finished(url: str, count: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while rows(url, "SELECT COUNT(*) FROM runs WHERE status IN"
                    " ('success', 'failed', 'crashed', 'dead', 'timed_out')")[0][0] < count:
        assert time.monotonic() < deadline, "runs did not finish"
        time.sleep(0.5)


def test_a_thousand_runs_across_two_replicas_run_exactly_once(pair, postgres_url: str) -> None:
    clients = [runtime.client() for runtime in pair]

    def post(number: int) -> int:
        answer = post_run(clients[number % 2], {"action": "echo", "n": number})
        assert answer.status_code == 202, answer.text
        return number

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(1000)))
    wait_all_finished(postgres_url, 1000)
    runs = rows(postgres_url, "SELECT status, attempt, lease_owner FROM runs")
    assert len(runs) == 1000
    assert {(status, attempt) for status, attempt, _ in runs} == {("success", 1)}
    assert len({owner for _, _, owner in runs}) == 2, "one replica did all the work"
    attempts = rows(postgres_url, "SELECT run_id, COUNT(*) FROM run_attempts GROUP BY run_id")
    assert len(attempts) == 1000 and {count for _, count in attempts} == {1}
    some = rows(postgres_url, "SELECT run_id FROM runs LIMIT 1")[0][0]
    for client in clients:  # either replica serves any run and its log
        assert client.get(f"/runs/{some}").json()["status"] == "success"
        assert f"run {some} attempt 1" in client.get(f"/runs/{some}/log").text
    for client in clients:
        client.close()


def test_a_killed_replicas_runs_are_run_again_by_the_other(tmp_path: Path, postgres_url: str) -> None:
    doomed = replica(tmp_path, "doomed", postgres_url).start()
    with doomed.client() as client:
        ids = [post_run(client, {"action": "sleep", "ms": 4000}).json()["run_id"] for _ in range(4)]
        for run_id in ids:
            assert wait_run(client, run_id, until={"running"})["status"] == "running"
    doomed.stop(signal.SIGKILL)
    survivor = replica(tmp_path, "survivor", postgres_url).start()
    try:
        with survivor.client() as client:
            finished = [wait_run(client, run_id, timeout=120) for run_id in ids]
    finally:
        survivor.stop()
    assert [(run["status"], run["attempt"]) for run in finished] == [("success", 2)] * 4
    for run in finished:
        assert [(a["attempt"], a["outcome"]) for a in run["attempts"]] \
            == [(1, "crashed"), (2, "success")]
    recorded = rows(postgres_url, "SELECT COUNT(*) FROM run_attempts")[0][0]
    assert recorded == 8  # two attempts each: none lost, none recorded twice


def test_the_inbox_answers_503_while_the_database_is_away(
        tmp_path: Path, postgres: PostgresServer, postgres_url: str) -> None:
    runtime = replica(tmp_path, "alone", postgres_url).start()
    try:
        with runtime.client() as client:
            postgres.stop()
            try:
                refused = post_run(client, {"action": "echo"})
                assert refused.status_code == 503 and refused.headers["Retry-After"]
                assert "unavailable" in refused.json()["error"]
                assert client.get("/readyz").status_code == 503
            finally:
                postgres.start()
                wait_until_up(postgres_url)
            deadline = time.monotonic() + 60
            while (answer := post_run(client, {"action": "echo"})).status_code != 202:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.5)
            assert wait_run(client, answer.json()["run_id"])["status"] == "success"
            assert client.get("/readyz").status_code == 200
    finally:
        runtime.stop()


def test_an_idempotency_key_holds_across_replicas(pair) -> None:
    clients = [runtime.client(**{"Idempotency-Key": "order-42"}) for runtime in pair]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: post_run(clients[n % 2], {"order": 42}), range(8)))
    assert sorted(answer.status_code for answer in answers) == [200] * 7 + [202]
    assert len({answer.json()["run_id"] for answer in answers}) == 1
    for client in clients:
        client.close()


class Downstream:
    """A loopback inbox that remembers which upstream run each hand-off came from."""

    def __init__(self) -> None:
        self.upstreams: collections.Counter = collections.Counter()
        downstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                self.rfile.read(int(self.headers.get("content-length", 0)))
                downstream.upstreams[self.headers["X-OSC-Upstream"]] += 1
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/inbox"


def test_a_flow_hand_off_is_delivered_once(tmp_path: Path, postgres_url: str) -> None:
    downstream = Downstream()
    key = tmp_path / "key"
    key.write_text("downstream-key")
    targets = json.dumps([{"name": "next", "on": "success", "url": downstream.url,
                           "key_path": str(key)}])
    pair = [replica(tmp_path, name, postgres_url, OSC_FLOW_TARGETS=targets).start()
            for name in ("up-one", "up-two")]
    try:
        clients = [runtime.client() for runtime in pair]
        ids = [post_run(clients[n % 2], {"action": "echo", "n": n}).json()["run_id"]
               for n in range(40)]
        wait_all_finished(postgres_url, 40)
        deadline = time.monotonic() + 60
        while rows(postgres_url, "SELECT COUNT(*) FROM callbacks WHERE status = 'delivered'"
                   )[0][0] < 40:
            assert time.monotonic() < deadline, "hand-offs not delivered"
            time.sleep(0.5)
        time.sleep(1)  # room for a second, duplicate send to arrive
        assert downstream.upstreams == {f"replicated/{run_id}": 1 for run_id in ids}
        for client in clients:
            client.close()
    finally:
        for runtime in pair:
            runtime.stop()
        downstream.server.shutdown()
