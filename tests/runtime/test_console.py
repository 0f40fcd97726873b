"""The run console and the API docs in a real browser: Debian's chromium driven by Playwright,
over loopback. Screenshots go to the test's tmp_path (docs/console*.png are taken from there)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from runtime_server import API_KEY, JOBS, REPO, RuntimeProcess, post_run, wait_run

sys.path.insert(0, str(REPO / "tests"))
from tools import tool  # noqa: E402

SECRET = "console-s3cret-token"
PHONE = {"width": 375, "height": 740}

# Chromium flags for a closed network: no background connections that would be refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    process = RuntimeProcess(data_dir, {
        "OSC_JOB_PATH": str(JOBS / "behaviours.js"),
        "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_JOB_NAME": "hello-console",
        "OSC_CREDENTIAL": json.dumps({"token": SECRET}),
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
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    yield context.new_page()
    context.close()


def console_errors(page: Page) -> list[str]:
    """The page's console errors from now on: a CSP violation or a failed load shows here."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def finished_run(runtime: RuntimeProcess, payload: dict) -> dict:
    with runtime.client() as client:
        return wait_run(client, post_run(client, payload).json()["run_id"])


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


def test_a_run_shows_its_input_masked_with_its_content_type(runtime: RuntimeProcess,
                                                            page: Page) -> None:
    run = finished_run(runtime, {"action": "echo", "note": f"token {SECRET}"})
    errors = console_errors(page)
    sign_in(page, runtime.url, API_KEY)
    page.goto(f"{runtime.url}/#/runs/{run['run_id']}")
    expect(page.locator("#run-input-type")).to_have_text("application/json")
    expect(page.locator("#run-input")).to_contain_text('"note": "token ***"')
    expect(page.locator("#run-input")).to_contain_text('"action": "echo"')
    assert SECRET not in page.content()
    assert errors == []


def test_the_chart_shows_the_last_day_by_status_and_duration(runtime: RuntimeProcess, page: Page,
                                                             tmp_path: Path) -> None:
    for action in ("echo", "echo"):
        finished_run(runtime, {"action": action, "name": "chart"})
    failed = finished_run(runtime, {"action": "throw", "order": {"id": 1042, "items": 3},
                                    "message": "the order service answered 503"})
    with runtime.client() as client:
        stats = client.get("/runs/stats").json()
    errors = console_errors(page)
    sign_in(page, runtime.url, API_KEY)
    bars = page.locator("#stats-svg g.bar")
    expect(bars).to_have_count(24)
    now = stats["buckets"][-1]
    expect(bars.last).to_have_attribute("data-start", now["start"])
    for status in ("success", "failed"):
        expect(bars.last.locator(f"rect[data-status={status}]")).to_have_attribute(
            "data-count", str(now["counts"][status]))
        expect(page.locator("#stats-legend")).to_contain_text(f"{status} {stats['totals'][status]}")
    durations = stats["duration_seconds"]
    expect(page.locator("#stats-durations")).to_contain_text(
        f"Duration of {durations['count']} finished run(s): p50 {durations['p50']:.2f} s")
    expect(page.locator("#durations-svg circle")).to_have_count(3)
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    page.locator(f"tr[data-run-id='{failed['run_id']}'] a").click()
    expect(page.locator("#retry")).to_be_visible()
    expect(page.locator("#run-input")).to_contain_text('"id": 1042')
    expect(page.locator("#run-log")).to_contain_text("the order service answered 503")
    page.screenshot(path=str(tmp_path / "console-run.png"), full_page=True)
    assert errors == []


def test_an_unknown_run_after_a_known_one_shows_only_not_found(runtime: RuntimeProcess,
                                                               page: Page) -> None:
    failed = finished_run(runtime, {"action": "throw", "message": "stale-view-check"})
    sign_in(page, runtime.url, API_KEY)
    page.goto(f"{runtime.url}/#/runs/{failed['run_id']}")
    expect(page.locator("#retry")).to_be_visible()
    expect(page.locator("#run-log")).to_contain_text("stale-view-check")

    unknown = "f" * 32
    page.goto(f"{runtime.url}/#/runs/{unknown}")
    expect(page.locator("#run-id")).to_have_text(unknown)
    expect(page.locator("#run-missing")).to_contain_text("no run with this id")
    expect(page.locator("#run-details")).to_be_hidden()
    expect(page.locator("#retry")).to_be_hidden()
    shown = page.locator("#run").inner_text()  # what is visible of the run view
    assert failed["run_id"] not in shown and "stale-view-check" not in shown
    assert "Retry" not in shown


def test_list_and_detail_show_one_time_convention(runtime: RuntimeProcess, page: Page) -> None:
    run = finished_run(runtime, {"action": "echo"})
    shown = run["created_at"][:19].replace("T", " ") + " UTC"
    sign_in(page, runtime.url, API_KEY)
    in_list = page.locator(f"tr[data-run-id='{run['run_id']}'] time")
    expect(in_list).to_have_text(shown)
    expect(in_list).to_have_attribute("title", re.compile(r"\(your time\)$"))
    expect(in_list).to_have_attribute("datetime", run["created_at"])
    page.goto(f"{runtime.url}/#/runs/{run['run_id']}")
    created = page.locator("#run-facts time").first
    expect(created).to_have_text(shown)
    expect(created).to_have_attribute("title", re.compile(r"\(your time\)$"))


def test_at_a_phones_width_the_header_spans_and_nothing_overflows(runtime: RuntimeProcess,
                                                                  phone: Page, tmp_path: Path) -> None:
    run = finished_run(runtime, {"action": "throw", "message": "seen on a phone"})
    sign_in(phone, runtime.url, API_KEY)
    expect(phone.locator(f"tr[data-run-id='{run['run_id']}']")).to_be_visible()
    expect(phone.locator("#stats-svg")).to_be_visible()
    phone.screenshot(path=str(tmp_path / "console-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert phone.locator("header").bounding_box()["width"] == PHONE["width"]
    table = phone.locator("table", has=phone.locator("#run-rows")).bounding_box()  # the runs
    assert table["x"] >= 0 and table["x"] + table["width"] <= PHONE["width"]

    phone.goto(f"{runtime.url}/#/runs/{run['run_id']}")
    expect(phone.locator("#run-log")).to_contain_text("seen on a phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(tmp_path / "console-run-phone.png"), full_page=True)


def test_the_favicon_is_served(runtime: RuntimeProcess, page: Page) -> None:
    answer = page.request.get(f"{runtime.url}/favicon.ico")
    assert answer.status == 200 and answer.headers["content-type"] == "image/x-icon"


def test_the_api_docs_render_with_the_network_cut_off(runtime: RuntimeProcess, page: Page) -> None:
    refused: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", loopback_only)
    errors = console_errors(page)
    page.goto(f"{runtime.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("osc runtime")
    expect(page.locator(".opblock-summary-path", has_text="/runs/{run_id}/input")).to_have_count(1)
    page.locator(".opblock-summary-path", has_text="/inbox").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert refused == []  # it did not even try to reach elsewhere
    assert errors == []  # no Content-Security-Policy violation, no failed load
