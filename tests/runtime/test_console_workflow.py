"""The console's run view of a workflow run, in a real browser: a Steps table with each step's
status, start, duration and error, and a single job's run shows no such table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_console import browser, console_errors, finished_run, page, sign_in  # noqa: F401
from test_workflows import TOKENS, write_plan

from runtime_server import API_KEY, RuntimeProcess


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    plan = write_plan(tmp_path_factory.mktemp("console-plan"))
    data_dir = tmp_path_factory.mktemp("console-workflow") / "data"
    process = RuntimeProcess(data_dir, {"OSC_WORKFLOW_PATH": str(plan),
                                        "OSC_JOB_NAME": "referrals"}).start()
    yield process
    process.stop()


def test_a_workflow_run_shows_its_steps(runtime: RuntimeProcess, page: Page,  # noqa: F811
                                        tmp_path: Path) -> None:
    errors = console_errors(page)
    run = finished_run(runtime, {"fail": True})
    assert run["status"] == "success", run
    sign_in(page, runtime.url, API_KEY)
    expect(page.locator("#runs")).to_be_visible()
    page.goto(f"{runtime.url}/#/runs/{run['run_id']}")
    rows = page.locator("#run-steps tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("fetch")
    expect(rows.nth(0).locator(".status")).to_have_text("failed")
    expect(rows.nth(0)).to_contain_text("upstream said no")
    expect(rows.nth(1)).to_contain_text("alert")
    expect(rows.nth(1).locator(".status")).to_have_text("success")
    expect(page.locator("#run-log")).to_contain_text("[osc] step alert started")
    page.screenshot(path=str(tmp_path / "console-workflow.png"), full_page=True)
    assert not [token for token in TOKENS if token in page.content()]
    assert errors == []
