"""Answers no Criteo should give: each becomes a clear error, never a silent success."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from airflow_provider_criteo.client.transport import MAX_RESPONSE_BYTES
from airflow_provider_criteo.exceptions import (
    CriteoConfigurationError,
    CriteoResponseError,
    CriteoServerError,
)
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.sandbox import CriteoSandbox
from demo.tls import self_signed_certificate
from tests.helpers import criteo_connection_json

pytestmark = pytest.mark.off_spec

HTML = "<html><body><h1>502 Bad Gateway</h1><p>proxy</p></body></html>"


def amend(hook: CriteoHook) -> None:
    segment = hook.create_contact_list_segment("vip")
    hook.add_identifiers(segment.id, ["a" * 64])


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            '{"data": {"type": "ContactlistAm',
            "application/json",
            "unexpected response body (application/json",
        ),
        (HTML, "text/html", "unexpected response body (text/html"),
        ("[1, 2, 3]", "application/json", "not a JSON object"),
        (
            json.dumps({"data": {"type": "ContactlistAmendment", "attributes": {}}}),
            "application/json",
            "lacks",
        ),
        (
            json.dumps({"data": None, "errors": [{"code": "internal-error", "traceId": "t1"}]}),
            "application/json",
            "code=internal-error",
        ),
    ],
)
def test_a_bad_200_is_an_error(hook, criteo_sandbox, body, content_type, message):
    criteo_sandbox.inject_fault(
        path="contact-list", method="PATCH", status=200, body=body, content_type=content_type
    )
    with pytest.raises(CriteoResponseError) as err:
        amend(hook)
    assert message in str(err.value)
    assert "PATCH /2026-07/marketing-solutions/audience-segments/" in str(err.value)


def test_an_html_error_page_from_a_proxy_is_retried_then_reported(criteo_conn, criteo_sandbox):
    hook = CriteoHook(criteo_conn, max_retries=2, retry_backoff=0.01)
    criteo_sandbox.inject_fault(
        path="advertisers/me", status=502, body=HTML, content_type="text/html", count=5
    )
    with pytest.raises(CriteoServerError) as err:
        hook.list_advertisers()
    assert "status=502" in str(err.value)
    assert "non-JSON response (text/html" in str(err.value)
    assert len([r for r in criteo_sandbox.requests if "advertisers/me" in r.path]) == 3


def test_a_proxy_page_that_recovers_is_ridden_out(hook, criteo_sandbox):
    criteo_sandbox.inject_fault(
        path="advertisers/me", status=503, body=HTML, content_type="text/html", count=2
    )
    assert hook.list_advertisers()


def test_a_huge_body_is_refused_unread(hook, criteo_sandbox):
    huge = '{"data": [' + ",".join(['{"id": "1"}'] * (MAX_RESPONSE_BYTES // 10)) + "]}"
    criteo_sandbox.inject_fault(path="advertisers/me", status=200, body=huge)
    with pytest.raises(CriteoResponseError, match="exceeds 16,777,216 bytes"):
        hook.list_advertisers()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_is_verified_and_cannot_be_switched_off_silently(certificate, monkeypatch):
    with CriteoSandbox(tls=certificate) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_CRITEO_TLS", criteo_connection_json(sandbox.url))
        # Environment tricks that disable verification in some HTTP clients change nothing here.
        monkeypatch.setenv("CURL_CA_BUNDLE", "")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
        monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")
        with pytest.raises(
            CriteoConfigurationError, match=r"TLS verification of https://127\.0\.0\.1:\d+ failed"
        ):
            CriteoHook("criteo_tls").list_advertisers()
        assert len(sandbox.requests) == 0  # refused at the handshake, and not retried

        trusted = criteo_connection_json(sandbox.url, ca_bundle=certificate[0])
        monkeypatch.setenv("AIRFLOW_CONN_CRITEO_TLS", trusted)
        assert CriteoHook("criteo_tls").list_advertisers()


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Answers every request with a JSON body sent one byte at a time, every 0.2 s."""

    def do_GET(self):
        body = b'{"data": [{"id": "12345", "attributes": {"advertiserName": "slow"}}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.2)

    def do_POST(self):
        body = json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 900}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("timeout", "took"), [(1, 1), (30, 4)])  # 30 s: the deadline cuts, not the timeout
def test_a_body_trickled_byte_by_byte_never_outlives_the_deadline(monkeypatch, timeout, took):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("AIRFLOW_CONN_CRITEO_SLOW", criteo_connection_json(url))
        hook = CriteoHook("criteo_slow", timeout=timeout, retry_deadline=3, retry_backoff=0.01)
        started = time.monotonic()
        with pytest.raises(CriteoServerError, match=f"Timeout: the response body took over {took}s"):
            hook.list_advertisers()
        assert time.monotonic() - started < 5  # the deadline, plus the last attempt's second
    finally:
        server.shutdown()
