"""The run console in a real browser: Debian's chromium driven by Playwright, over loopback."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from runtime_server import API_KEY, REPO, RuntimeProcess, post_run, wait_run

sys.path.insert(0, str(REPO / "tests"))
from tools import tool  # noqa: E402

# Chromium flags for a closed network: no background connections that would be refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    process = RuntimeProcess(data_dir, {
        "OSC_JOB_PATH": str(REPO / "examples/hello/job.js"),
        "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_JOB_NAME": "hello-console",
    }).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(tool("chromium")),
                                              args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(url + "/")
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#api-key", key)
    page.click("#sign-in-form button[type=submit]")


def test_wrong_key_is_refused(runtime: RuntimeProcess, page: Page) -> None:
    sign_in(page, runtime.url, "not-the-key")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#sign-in-error")).to_contain_text("refused")


def test_console_shows_runs_logs_and_retries(runtime: RuntimeProcess, page: Page,
                                             tmp_path: Path) -> None:
    sign_in(page, runtime.url, API_KEY)
    expect(page.locator("#runs")).to_be_visible()
    expect(page.locator("#job-name")).to_have_text("hello-console")
    expect(page.locator("#job-facts")).to_contain_text("@openfn/language-common")
    assert API_KEY not in page.url

    with runtime.client() as client:
        run_id = post_run(client, {"name": "console"}).json()["run_id"]
        assert wait_run(client, run_id)["status"] == "success"
    row = page.locator(f"tr[data-run-id='{run_id}']")
    expect(row).to_contain_text("success", timeout=15_000)  # the table refreshes itself

    page.select_option("#status-filter", "failed")
    expect(row).to_have_count(0)
    page.select_option("#status-filter", "")
    row.locator("a").click()
    expect(page.locator("#run-id")).to_have_text(run_id)
    expect(page.locator("#run-log")).to_contain_text("@openfn/language-common")
    expect(page.locator("#run-state")).to_contain_text("console")
    page.screenshot(path=str(tmp_path / "console-run.png"), full_page=True)

    page.click("#retry")
    expect(page.locator("#retry-result")).to_have_text(re.compile(r"Queued as attempt 2"))
    with runtime.client() as client:
        assert wait_run(client, run_id)["attempt"] == 2
    page.goto(runtime.url + "/#/")
    expect(page.locator(f"tr[data-run-id='{run_id}'] td").nth(2)).to_have_text("2", timeout=15_000)
    page.screenshot(path=str(tmp_path / "console-runs.png"), full_page=True)
    assert API_KEY not in page.url
