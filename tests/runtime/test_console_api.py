"""The routes behind the console and the docs, over a real runtime: a run's input (masked),
the last day's stats, the favicon, and the security headers of every page and asset."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from runtime_server import JOBS, RuntimeProcess, post_run, wait_run

SECRET = 'tok-"quoted"-s3cret'  # a quote: JSON escapes it, so masking must see the value


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    process = RuntimeProcess(tmp_path_factory.mktemp("console-api") / "data", {
        "OSC_JOB_PATH": str(JOBS / "behaviours.js"), "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_CREDENTIAL": json.dumps({"token": SECRET, "user": "ada-lovelace"}),
    }).start()
    yield process
    process.stop()


def test_input_is_the_body_with_credential_values_masked(runtime: RuntimeProcess) -> None:
    body = {"order": 7, "note": f"the token is {SECRET}", "who": {"name": "ada-lovelace"}}
    with runtime.client() as client:
        run_id = post_run(client, body).json()["run_id"]
        answer = client.get(f"/runs/{run_id}/input")
        wait_run(client, run_id)  # finished, so that it does not count in a later test's stats
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"order": 7, "note": "the token is ***", "who": {"name": "***"}}
    assert SECRET not in answer.text and "s3cret" not in answer.text


def test_input_of_an_unknown_run_is_404_and_needs_a_key(runtime: RuntimeProcess) -> None:
    with runtime.client() as client:
        missing = client.get("/runs/" + "0" * 32 + "/input")
    assert (missing.status_code, missing.json()) == (404, {"error": "no such run"})
    assert httpx.get(f"{runtime.url}/runs/{'0' * 32}/input").status_code == 401


def test_stats_count_the_last_day_by_status(runtime: RuntimeProcess) -> None:
    with runtime.client() as client:
        before = client.get("/runs/stats").json()
        ok = post_run(client, {"action": "echo"}).json()["run_id"]
        bad = post_run(client, {"action": "throw"}).json()["run_id"]
        assert wait_run(client, ok)["status"] == "success"
        assert wait_run(client, bad)["status"] == "failed"
        stats = client.get("/runs/stats").json()
    assert len(stats["buckets"]) == 24 and stats["bucket_seconds"] == 3600
    grown = {status: stats["totals"].get(status, 0) - before["totals"].get(status, 0)
             for status in ("success", "failed")}
    assert grown == {"success": 1, "failed": 1}
    assert stats["buckets"][-1]["counts"].get("failed", 0) >= 1
    durations = stats["duration_seconds"]
    assert durations["count"] >= 2
    assert 0 < durations["p50"] <= durations["p90"] <= durations["p99"]
    assert httpx.get(f"{runtime.url}/runs/stats").status_code == 401


PAGES = ["/", "/console/console.js", "/console/chart.js", "/console/console.css", "/docs",
         "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/docs.js", "/favicon.ico"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_and_assets_carry_security_headers(runtime: RuntimeProcess, path: str) -> None:
    answer = httpx.get(runtime.url + path)
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'",
                      "connect-src 'self'"):
        assert directive in policy
    assert "http" not in policy  # nothing from elsewhere: no CDN
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_favicon_is_an_icon(runtime: RuntimeProcess) -> None:
    answer = httpx.get(f"{runtime.url}/favicon.ico")
    assert answer.headers["content-type"] == "image/x-icon"
    assert answer.content[:4] == b"\x00\x00\x01\x00"  # the ICO signature


def test_docs_page_loads_nothing_from_elsewhere(runtime: RuntimeProcess) -> None:
    page = httpx.get(f"{runtime.url}/docs").text
    assert "cdn" not in page.lower() and "https://" not in page
    assert '<script src="/docs/swagger-ui-bundle.js">' in page
    assert httpx.get(f"{runtime.url}/docs/nothing.js").status_code == 404
