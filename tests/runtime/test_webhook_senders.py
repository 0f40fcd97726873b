"""What real senders post, end to end: KoboToolbox (Basic; JSON and XML), CommCare HQ (Basic;
form XML), DHIS2 (`Authorization: ApiToken`, a token in the query), Salesforce outbound
messages (SOAP, answered with the Ack), HTML forms — checked on the status, the run's
state.data and state.request (the job returns them), and that a redelivery makes no new run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime_server import API_KEY, JOBS, RuntimeProcess, run_count, wait_run

SENDERS = Path(__file__).resolve().parent / "data" / "senders"
KOBO_JSON = json.loads((SENDERS / "kobo-submission.json").read_text())
KOBO_XML = (SENDERS / "kobo-submission.xml").read_bytes()
COMMCARE_XML = (SENDERS / "commcare-form.xml").read_bytes()
SALESFORCE_XML = (SENDERS / "salesforce-outbound.xml").read_bytes()
ACK = (SENDERS / "salesforce-ack.xml").read_text().strip()
KOBO_USER, COMMCARE_USER = "kobo-rest:s3cret-kobo-pass", "commcare-forwarder:an0ther-pass"
QUERY_KEY = "dhis2-query-key-0123456789"


def basic(user_password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user_password.encode()).decode()}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    """Basic (two users), API keys under Bearer and ApiToken, a query parameter; Kobo's _uuid
    deduplicates."""
    folder = tmp_path_factory.mktemp("senders")
    (folder / "basic").write_text(f"{KOBO_USER}\n{COMMCARE_USER}\n")
    runtime = RuntimeProcess(folder / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "webhook.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_API_KEYS": f"{API_KEY},{QUERY_KEY}",
        "OSC_BASIC_AUTH_PATH": str(folder / "basic"), "OSC_API_KEY_SCHEMES": "Bearer,ApiToken",
        "OSC_API_KEY_QUERY_PARAM": "api_token", "OSC_IDEMPOTENCY_FROM": "json:$._uuid",
    }).start()
    yield runtime
    runtime.stop()


def post(runtime: RuntimeProcess, body: bytes, headers: dict[str, str], **params: str) -> httpx.Response:
    """A sender's request: only its own headers (no test key), over a fresh connection."""
    return httpx.post(f"{runtime.url}/inbox", content=body, headers=headers, params=params,
                      timeout=60)


def finished(runtime: RuntimeProcess, answer: httpx.Response) -> dict:
    assert answer.status_code in (200, 202), answer.text
    with runtime.client() as client:
        run = wait_run(client, answer.headers["X-OSC-Run-Id"])
    assert run["status"] == "success", run
    return run


def test_kobo_json_with_basic_auth_and_a_redelivery(inbox: RuntimeProcess) -> None:
    body = json.dumps(KOBO_JSON).encode()
    headers = basic(KOBO_USER) | {"Content-Type": "application/json"}
    answer = post(inbox, body, headers)
    assert answer.status_code == 202 and answer.json()["auth"] == "basic"
    run = finished(inbox, answer)
    assert run["auth"] == "basic" and run["content_type"] == "application/json"
    state = run["final_state"]
    assert state["data"] == KOBO_JSON
    request = state["request"]
    assert request["method"] == "POST" and request["path"] == "/inbox" and request["query"] == {}
    assert request["contentType"] == "application/json"
    assert "authorization" not in request["headers"] and "content-type" in request["headers"]
    with inbox.client() as client:
        before = run_count(client)
        again = post(inbox, body, headers)  # Kobo retries when it saw no answer in 30 s
        assert again.status_code == 200 and again.json()["run_id"] == run["run_id"]
        assert run_count(client) == before


def test_kobo_xml_with_basic_auth_becomes_json(inbox: RuntimeProcess) -> None:
    answer = post(inbox, KOBO_XML, basic(KOBO_USER) | {"Content-Type": "text/xml"})
    run = finished(inbox, answer)
    assert run["final_state"]["data"] == {"aBcD123eFgH456": {
        "@id": "aBcD123eFgH456", "@version": "1 (2026-11-30 09:00:00)",
        "formhub": {"uuid": "b5f5c8e2a1d34f0c9e7b6a5d4c3b2a10"},
        "start": "2026-11-30T10:01:02.123+01:00", "end": "2026-11-30T10:04:40.456+01:00",
        "today": "2026-11-30",
        "household": {"name": "Ann Mensah", "members": "4", "water_source": "borehole"},
        "__version__": "vQm3kXc8bLr2pWz9aT5uYh",
        "meta": {"instanceID": "uuid:6ad1c1d8-4a3b-4c5d-9e8f-0a1b2c3d4e5f", "deprecatedID": ""},
    }}
    assert run["final_state"]["request"]["contentType"] == "text/xml"
    with inbox.client() as client:  # the body as received, with its content type
        stored = client.get(f"/runs/{run['run_id']}/input")
    assert stored.content == KOBO_XML and stored.headers["content-type"].startswith("text/xml")


def test_commcare_form_xml_keeps_namespaces_repeats_and_case_blocks(inbox: RuntimeProcess) -> None:
    headers = basic(COMMCARE_USER) | {"Content-Type": "application/xml; charset=utf-8"}
    run = finished(inbox, post(inbox, COMMCARE_XML, headers))
    form = run["final_state"]["data"]["data"]
    assert form["@xmlns"] == "http://openrosa.org/formdesigner/5E6A2E1C-7B9D-4F3A-8C21-0D4E5F6A7B8C"
    assert form["@name"] == "Register Household" and form["household_name"] == "Mensah"
    assert form["member"] == [{"name": "Ama", "age": "34"}, {"name": "Kofi", "age": "6"}]
    assert form["case"] == {
        "@xmlns": "http://commcarehq.org/case/transaction/v2",
        "@case_id": "3f0c6a2e-9b8d-4c1f-a7e5-2d4b6c8e0f13",
        "@date_modified": "2026-11-30T10:12:44.123000Z",
        "@user_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "create": {"case_name": "Mensah", "owner_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                   "case_type": "household"},
        "update": {"members": "2"},
    }
    assert form["meta"]["@xmlns"] == "http://openrosa.org/jr/xforms"
    assert form["meta"]["instanceID"] == "7a9d2c4e-1b3f-4a5c-8d7e-9f0a1b2c3d4e"
    assert form["meta"]["appVersion"].startswith("CommCare Version 2.53")
    assert run["auth"] == "basic"


def test_dhis2_api_token_header_and_query_token(inbox: RuntimeProcess) -> None:
    event = {"event": "Zq3fGh8Kp1L", "program": "IpHINAT79UW", "orgUnit": "DiszpKrYNg8",
             "occurredAt": "2026-11-30T00:00:00.000", "status": "COMPLETED",
             "dataValues": [{"dataElement": "qrur9Dvnyt5", "value": "22"}]}
    body = json.dumps(event).encode()
    json_type = {"Content-Type": "application/json"}
    answer = post(inbox, body, {"Authorization": f"ApiToken {API_KEY}"} | json_type)
    assert answer.status_code == 202 and answer.json()["auth"] == "api-key"
    assert finished(inbox, answer)["final_state"]["data"] == event
    for refused in ({"Authorization": "ApiToken not-the-key"}, {"Authorization": f"Token {API_KEY}"},
                    basic("kobo-rest:wrong-password")):
        assert post(inbox, body, refused | json_type).status_code == 401
    # A DHIS2 route that can only put the token in the URL: it never reaches the job or a log.
    answer = post(inbox, body, json_type, api_token=QUERY_KEY, source="dhis2")
    assert answer.status_code == 202 and answer.json()["auth"] == "query-param"
    request = finished(inbox, answer)["final_state"]["request"]
    assert request["query"] == {"source": "dhis2"}
    assert post(inbox, body, json_type, api_token="wrong-query-token-xyz").status_code == 401
    log = inbox.log_text()
    assert "api_token=***" in log and "authentication failed" in log
    presented = [QUERY_KEY, "wrong-query-token-xyz", "not-the-key", "wrong-password",
                 basic("kobo-rest:wrong-password")["Authorization"].split()[1]]
    assert not [value for value in presented if value in log]


def test_form_bodies_become_json_objects(inbox: RuntimeProcess) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    form = post(inbox, b"name=Ann+Mensah&tag=a&tag=b&empty=",
                auth | {"Content-Type": "application/x-www-form-urlencoded"})
    assert finished(inbox, form)["final_state"]["data"] == {
        "name": "Ann Mensah", "tag": ["a", "b"], "empty": ""}
    multipart = b"".join([
        b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nAnn\r\n',
        b'--XyZ\r\nContent-Disposition: form-data; name="tag"\r\n\r\na\r\n',
        b'--XyZ\r\nContent-Disposition: form-data; name="tag"\r\n\r\nb\r\n--XyZ--\r\n'])
    answer = post(inbox, multipart, auth | {"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert finished(inbox, answer)["final_state"]["data"] == {"name": "Ann", "tag": ["a", "b"]}


def test_a_sync_job_answers_with_its_webhook_response(inbox: RuntimeProcess) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    reply = {"status": 200, "body": "<ok>received</ok>", "headers": {"Content-Type": "application/xml",
                                                                      "X-Reply": "yes"}}
    answer = post(inbox, json.dumps({"reply": reply}).encode(), auth, sync="true")
    assert answer.status_code == 200 and answer.text == "<ok>received</ok>"
    assert answer.headers["content-type"] == "application/xml" and answer.headers["x-reply"] == "yes"
    as_json = post(inbox, json.dumps({"reply": {"status": 422, "body": {"ok": False}}}).encode(),
                   auth, sync="true")
    assert as_json.status_code == 422 and as_json.json() == {"ok": False}
    for bad in ({"status": 99}, {"status": "200"}, {"headers": {"Set-Cookie": "a=b"}},
                {"headers": {"Content-Length": "1"}}, {"headers": {"X-A": "one\r\nX-B: two"}}):
        refused = post(inbox, json.dumps({"reply": bad}).encode(), auth, sync="true")
        assert refused.status_code == 502, (bad, refused.text)
        assert "state.webhookResponse" in refused.json()["error"]
        assert "set-cookie" not in refused.headers


@pytest.fixture(scope="module")
def salesforce(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    """An endpoint URL with its token in the query (Salesforce sends no credential), the Ack as
    the accept answer, the notification Id as the delivery id."""
    folder = tmp_path_factory.mktemp("salesforce")
    runtime = RuntimeProcess(folder / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "webhook.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_API_KEYS": f"{API_KEY},{QUERY_KEY}",
        "OSC_API_KEY_QUERY_PARAM": "token", "OSC_ACCEPT_STATUS": "200",
        "OSC_ACCEPT_CONTENT_TYPE": "text/xml; charset=utf-8",
        "OSC_ACCEPT_BODY_PATH": str(SENDERS / "salesforce-ack.xml"),
        "OSC_IDEMPOTENCY_FROM": "json:$.Envelope.Body.notifications.Notification.Id",
    }).start()
    yield runtime
    runtime.stop()


def test_a_salesforce_outbound_message_is_acked_once(salesforce: RuntimeProcess) -> None:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
               "User-Agent": "Jakarta Commons-HttpClient/3.1"}
    answer = post(salesforce, SALESFORCE_XML, headers, token=QUERY_KEY)
    assert answer.status_code == 200 and answer.text.strip() == ACK
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    run = finished(salesforce, answer)
    notifications = run["final_state"]["data"]["Envelope"]["Body"]["notifications"]
    assert notifications["@xmlns"] == "http://soap.sforce.com/2005/09/outbound"
    assert notifications["SessionId"] == {"@xsi:nil": "true"}
    assert notifications["Notification"] == {"Id": "04l5g00000AbCdEAAV", "sObject": {
        "@xsi:type": "sf:Contact", "Id": "0035g00000XyZaBAAV", "Email": "ann.mensah@example.org",
        "FirstName": "Ann", "LastName": "Mensah"}}
    request = run["final_state"]["request"]
    assert request["headers"]["soapaction"] == '""' and request["query"] == {}
    with salesforce.client() as client:
        before = run_count(client)
        again = post(salesforce, SALESFORCE_XML, headers, token=QUERY_KEY)  # Salesforce resends
        assert again.status_code == 200 and again.text.strip() == ACK
        assert again.headers["X-OSC-Run-Id"] == run["run_id"] and run_count(client) == before
    assert post(salesforce, SALESFORCE_XML, headers).status_code == 401


def test_the_stored_input_masks_keys_and_passwords(inbox: RuntimeProcess) -> None:
    body = f"note=the key is {QUERY_KEY}&password=s3cret-kobo-pass".encode()
    headers = basic(KOBO_USER) | {"Content-Type": "application/x-www-form-urlencoded"}
    run = finished(inbox, post(inbox, body, headers))
    with inbox.client() as client:
        stored = client.get(f"/runs/{run['run_id']}/input")
        assert client.get("/runs/0123456789abcdef0123456789abcdef/input").status_code == 404
    assert stored.status_code == 200
    assert stored.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert stored.text == "note=the key is ***&password=***"
