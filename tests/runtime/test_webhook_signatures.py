"""Signed deliveries from GitHub, Shopify and Stripe: right, wrong, tampered, rotated and stale
signatures, the signature headers kept from the job, and redeliveries deduplicated by the
sender's delivery id (X-GitHub-Delivery, X-Shopify-Webhook-Id, the Stripe event id)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from runtime_server import JOBS, RuntimeProcess, run_count, wait_run

OLD_SECRET, SECRET = "old-signing-secret-1", "whsec_current-signing-secret-2"


def start_signed(tmp_path_factory: pytest.TempPathFactory, engine: str, preset: str,
                 idempotency_from: str) -> RuntimeProcess:
    folder = tmp_path_factory.mktemp(preset)
    (folder / "secrets").write_text(f"{SECRET}\n{OLD_SECRET}\n")  # rotation: both are valid
    return RuntimeProcess(folder / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "webhook.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_SIGNATURE": preset,
        "OSC_SIGNATURE_SECRET_PATH": str(folder / "secrets"),
        "OSC_IDEMPOTENCY_FROM": idempotency_from,
    }).start()


def deliver(runtime: RuntimeProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """The sender's request only: no API key, just its signature."""
    return httpx.post(f"{runtime.url}/inbox", content=body, timeout=60,
                      headers={"Content-Type": "application/json"} | headers)


def accepted_state(runtime: RuntimeProcess, answer: httpx.Response) -> dict:
    assert answer.status_code == 202 and answer.json()["auth"] == "signature", answer.text
    with runtime.client() as client:
        run = wait_run(client, answer.json()["run_id"])
    assert run["status"] == "success" and run["auth"] == "signature", run
    return run["final_state"]


def assert_redelivery_is_the_same_run(runtime: RuntimeProcess, body: bytes,
                                      headers: dict[str, str], run_id: str) -> None:
    with runtime.client() as client:
        before = run_count(client)
        again = deliver(runtime, body, headers)
        assert again.status_code == 200 and again.json()["run_id"] == run_id
        assert run_count(client) == before


def hex_hmac(secret: str, message: bytes, digest=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


# -- GitHub ---------------------------------------------------------------------------------

PUSH = {"ref": "refs/heads/main", "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        "repository": {"id": 186853002, "full_name": "example/health-forms"},
        "pusher": {"name": "ann"}, "commits": [{"id": "0d1a26e", "message": "Add the form"}]}


@pytest.fixture(scope="module")
def github(tmp_path_factory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = start_signed(tmp_path_factory, engine, "github", "header:X-GitHub-Delivery")
    yield runtime
    runtime.stop()


def github_headers(body: bytes, secret: str, delivery: str) -> dict[str, str]:
    return {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "292430182", "User-Agent": "GitHub-Hookshot/044aadd",
            "X-Hub-Signature": "sha1=" + hex_hmac(secret, body, hashlib.sha1),
            "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body)}


def test_github_signed_push(github: RuntimeProcess) -> None:
    body = json.dumps(PUSH, indent=2).encode()  # signed as sent: spacing and all
    headers = github_headers(body, SECRET, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    answer = deliver(github, body, headers)
    state = accepted_state(github, answer)
    assert state["data"] == PUSH
    seen = state["request"]["headers"]
    assert seen["x-github-event"] == "push" and seen["x-github-delivery"].startswith("72d3162e")
    assert "x-hub-signature-256" not in seen and "x-hub-signature" not in seen
    assert_redelivery_is_the_same_run(github, body, headers, answer.json()["run_id"])


def test_github_wrong_tampered_and_rotated_signatures(github: RuntimeProcess) -> None:
    body = json.dumps(PUSH).encode()
    wrong = github_headers(body, "not-the-secret", "a-1")
    assert deliver(github, body, wrong).status_code == 401
    tampered = github_headers(body, SECRET, "a-2")
    assert deliver(github, body.replace(b"main", b"evil"), tampered).status_code == 401
    unsigned = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "a-3"}
    refused = deliver(github, body, unsigned)
    assert refused.status_code == 401 and "X-Hub-Signature-256" in refused.json()["error"]
    assert deliver(github, body, github_headers(body, OLD_SECRET, "a-4")).status_code == 202
    assert "not-the-secret" not in github.log_text()


# -- Shopify --------------------------------------------------------------------------------

# Ids as in Shopify's docs: within 2**53 (a job's JavaScript numbers hold no more exactly).
ORDER = {"id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469",
         "email": "ann@example.org", "total_price": "398.00", "currency": "USD",
         "line_items": [{"id": 466157049, "quantity": 1, "title": "IPod Nano - 8GB"}]}


@pytest.fixture(scope="module")
def shopify(tmp_path_factory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = start_signed(tmp_path_factory, engine, "shopify", "header:X-Shopify-Webhook-Id")
    yield runtime
    runtime.stop()


def shopify_headers(body: bytes, secret: str, webhook_id: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Shop-Domain": "example.myshopify.com", "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Triggered-At": "2026-11-30T10:00:00.000000000Z"}


def test_shopify_signed_order(shopify: RuntimeProcess) -> None:
    body = json.dumps(ORDER).encode()
    headers = shopify_headers(body, SECRET, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    answer = deliver(shopify, body, headers)
    state = accepted_state(shopify, answer)
    assert state["data"] == ORDER
    assert state["request"]["headers"]["x-shopify-topic"] == "orders/create"
    assert "x-shopify-hmac-sha256" not in state["request"]["headers"]
    assert_redelivery_is_the_same_run(shopify, body, headers, answer.json()["run_id"])
    wrong = shopify_headers(body, "not-the-secret", "b-1")
    assert deliver(shopify, body, wrong).status_code == 401
    hex_instead = shopify_headers(body, SECRET, "b-2") | {"X-Shopify-Hmac-Sha256": hex_hmac(SECRET, body)}
    assert deliver(shopify, body, hex_instead).status_code == 401


# -- Stripe ---------------------------------------------------------------------------------

EVENT = {"id": "evt_1QabcdEFGhijKLmn", "object": "event", "api_version": "2026-10-28",
         "created": 1764496800, "type": "payment_intent.succeeded",
         "data": {"object": {"id": "pi_3QabcdEFGhijKLmn", "object": "payment_intent",
                             "amount": 2000, "currency": "usd", "status": "succeeded"}}}


@pytest.fixture(scope="module")
def stripe(tmp_path_factory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = start_signed(tmp_path_factory, engine, "stripe", "json:$.id")
    yield runtime
    runtime.stop()


def stripe_headers(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    signature = hex_hmac(secret, f"{timestamp}.".encode() + body)
    return {"Stripe-Signature": f"t={timestamp},v1={signature},v0=6ffbb59b2300aae63f2720",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}


def test_stripe_signed_event_and_its_retry(stripe: RuntimeProcess) -> None:
    body = json.dumps(EVENT).encode()
    answer = deliver(stripe, body, stripe_headers(body, SECRET, int(time.time())))
    state = accepted_state(stripe, answer)
    assert state["data"] == EVENT and "stripe-signature" not in state["request"]["headers"]
    # Stripe's retry is signed anew (a new t) but carries the same event id.
    retry = stripe_headers(body, SECRET, int(time.time()) + 1)
    assert_redelivery_is_the_same_run(stripe, body, retry, answer.json()["run_id"])


def test_stripe_wrong_and_stale_signatures_are_refused(stripe: RuntimeProcess) -> None:
    body = json.dumps(EVENT | {"id": "evt_other"}).encode()
    now = int(time.time())
    assert deliver(stripe, body, stripe_headers(body, "whsec_wrong", now)).status_code == 401
    assert deliver(stripe, body, stripe_headers(body, SECRET, now - 600)).status_code == 401
    assert deliver(stripe, body, stripe_headers(body, SECRET, now + 600)).status_code == 401
    moved = stripe_headers(body, SECRET, now)  # a valid signature under another timestamp
    moved["Stripe-Signature"] = moved["Stripe-Signature"].replace(f"t={now}", f"t={now - 1}")
    assert deliver(stripe, body, moved).status_code == 401
    assert deliver(stripe, body, stripe_headers(body, OLD_SECRET, now - 250)).status_code == 202
