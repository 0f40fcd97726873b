"""The webhook parts on their own: settings checks, the XML and form mappings, the query mask,
and the run store keeping what came in (also in a data dir made before it did)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from osc_runtime import store as store_module
from osc_runtime.bodies import BodyError, parse_body
from osc_runtime.request_meta import mask_query
from osc_runtime.run_requests import RunRequest
from osc_runtime.settings import SettingsError, load
from osc_runtime.store import RunStore, Submission
from osc_runtime.xml_body import XmlError, parse_xml

BASE = {"job": "fn(s => s);", "adaptor": "@openfn/language-common"}


def settings_error(tmp_path: Path, **overrides: object) -> str:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "no-colon").write_text("justaname\n")
    with pytest.raises(SettingsError) as raised:
        load(**BASE, data_dir=tmp_path, **overrides)
    return str(raised.value)


@pytest.mark.parametrize(("overrides", "variable"), [
    ({}, "OSC_API_KEYS"),
    ({"signature": "gitlab"}, "OSC_SIGNATURE"),
    ({"signature": "hmac:X-Sig:md5:hex"}, "OSC_SIGNATURE"),
    ({"signature": "hmac:X-Sig:sha256:base32"}, "OSC_SIGNATURE"),
    ({"signature": "hmac:X Sig:sha256:hex"}, "OSC_SIGNATURE"),
    ({"signature": "github"}, "OSC_SIGNATURE_SECRET_PATH"),
    ({"signature": "github", "signature_secret_path": "{dir}/empty"}, "OSC_SIGNATURE_SECRET_PATH"),
    ({"basic_auth_path": "{dir}/no-colon"}, "OSC_BASIC_AUTH_PATH"),
    ({"basic_auth_path": "{dir}/missing"}, "OSC_BASIC_AUTH_PATH"),
    ({"basic_auth_path": "{dir}/empty", "api_keys": "k"}, "OSC_BASIC_AUTH_PATH"),
    ({"signature": "stripe", "signature_secret_path": "{dir}/x", "api_key_query_param": "t"},
     "OSC_API_KEY_QUERY_PARAM"),
    ({"api_keys": "k", "idempotency_from": "body:$.id"}, "OSC_IDEMPOTENCY_FROM"),
    ({"api_keys": "k", "idempotency_from": "header:two words"}, "OSC_IDEMPOTENCY_FROM"),
    ({"api_keys": "k", "accept_body": "<Ack/>"}, "OSC_ACCEPT_CONTENT_TYPE"),
    ({"api_keys": "k", "accept_body": "a", "accept_body_path": "{dir}/empty",
      "accept_content_type": "text/plain"}, "OSC_ACCEPT_BODY"),
    ({"api_keys": "k", "accept_status": 302}, "OSC_ACCEPT_STATUS"),
])
def test_a_bad_webhook_setting_names_its_variable(tmp_path: Path, overrides: dict,
                                                 variable: str) -> None:
    (tmp_path / "x").write_text("secret\n")
    values = {key: value.replace("{dir}", str(tmp_path)) if isinstance(value, str) else value
              for key, value in overrides.items()}
    assert variable in settings_error(tmp_path, **values)


def test_basic_or_a_signature_alone_is_enough_to_start(tmp_path: Path) -> None:
    (tmp_path / "users").write_text("kobo:pass\n")
    (tmp_path / "secrets").write_text("s1\ns2\n")
    assert load(**BASE, basic_auth_path=tmp_path / "users").basic_auth_lines() == ["kobo:pass"]
    signed = load(**BASE, signature="hmac:X-Signature:sha512:base64:v1=",
                  signature_secret_path=tmp_path / "secrets")
    assert signed.signature_secrets() == ["s1", "s2"]


def test_the_xml_mapping() -> None:
    document = (b'<r xmlns="urn:a" xmlns:x="urn:x" x:id="1" id="2"><x:leaf>v</x:leaf>'
                b'<x:node k="v">t</x:node>mixed<!-- note --><?pi x?><![CDATA[ <raw> ]]>'
                b"<e/><e></e><e>3</e></r>")
    assert parse_xml(document) == {"r": {
        "@xmlns": "urn:a", "@x:id": "1", "@id": "2", "leaf": "v",
        "node": {"@xmlns": "urn:x", "@k": "v", "#text": "t"}, "e": ["", "", "3"],
        "#text": "mixed <raw>"}}
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><a>caf\xe9</a>'.encode("latin-1")
    assert parse_xml(latin) == {"a": "café"}


@pytest.mark.parametrize("document", [
    b"", b"<a>", b"<a></b>", b"text", b"<a/><b/>", b"<a>" * 101 + b"</a>" * 101,
    b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
    b'<!DOCTYPE a SYSTEM "http://example.org/a.dtd"><a/>',
    b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/hostname">]><a>&e;</a>',
])
def test_xml_that_is_refused(document: bytes) -> None:
    with pytest.raises(XmlError):
        parse_xml(document)


@pytest.mark.parametrize(("content_type", "body", "data"), [
    ("application/x-www-form-urlencoded", b"a=1&a=2&b=%C3%A9", {"a": ["1", "2"], "b": "é"}),
    ("application/x-www-form-urlencoded; charset=ISO-8859-1", b"b=%E9", {"b": "é"}),
    ("application/x-www-form-urlencoded", b"", {}),
    ("application/vnd.api+json", b'{"a": 1}', {"a": 1}),
    ("application/atom+xml", b"<feed><id>1</id></feed>", {"feed": {"id": "1"}}),
])
def test_bodies_by_media_type(content_type: str, body: bytes, data: object) -> None:
    assert parse_body(content_type, body) == data


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("text/plain", b"a", 415), ("image/svg+xml", b"<svg/>", 415), ("", b"{}", 415),
    ("application/x-www-form-urlencoded", b"a=%ff", 400),
    ("multipart/form-data; boundary=B", b"--B\r\nbroken", 400),
])
def test_bodies_that_are_refused(content_type: str, body: bytes, status: int) -> None:
    with pytest.raises(BodyError) as raised:
        parse_body(content_type, body)
    assert raised.value.status == status


def test_the_access_log_mask() -> None:
    params = frozenset({"api_token"})
    assert mask_query("/inbox?a=1&api_token=s3cr3t&b=2", params) == "/inbox?a=1&api_token=***&b=2"
    assert mask_query("/inbox?api%5Ftoken=s3cr3t", params) == "/inbox?api%5Ftoken=***"
    assert mask_query("/inbox", params) == "/inbox"


def test_a_data_dir_from_before_keeps_its_runs_and_stores_requests(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    old = sqlite3.connect(path)
    old.executescript(store_module.SCHEMA)  # the runs table alone, as older versions made it
    old.execute("INSERT INTO runs (run_id, status, trigger, input, created_at)"
                " VALUES ('0' || hex(randomblob(15)), 'success', 'webhook', '{}', 1)")
    old.commit()
    old.close()
    store = RunStore(path)
    (earlier,) = store.list()
    assert store.request_of(earlier.run_id) is None
    came_in = RunRequest("basic", "text/xml", b"<a/>", {"method": "POST", "path": "/inbox"})
    ((run, created),) = store.add_many([Submission('{"a": ""}', request=came_in)])
    assert created and store.request_of(run.run_id) == came_in
    store.finish(store.claim_next().run_id, store_module.Status.SUCCESS, outcome="success",
                 exit_code=0, error=None, final_state="{}")
    store.delete_finished(older_than=store.clock() + 1, keep_newest=1)
    assert store.list() == [] and store.request_of(run.run_id) is None
    store.close()
