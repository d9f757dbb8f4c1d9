"""curl() and the checkpoint helpers.

The formatting and expectation tests answer through httpx's MockTransport
with what Envoy's direct response sends (they run in `make check`); the
others talk to a real Envoy running the add-header example.
"""

from __future__ import annotations

import httpx
import pytest

import labkit
from helpers import unique

ENVOY_HEADERS = {"content-length": "12", "content-type": "text/plain", "date": "Tue, 01 Dec 2026",
                 "server": "envoy", "my-new-header": "some-value-here"}


def like_envoy(request: httpx.Request) -> httpx.Response:
    """The add-header example's answer, as Envoy sends it."""
    return httpx.Response(200, headers=ENVOY_HEADERS, content=b"Hello world\n")


@pytest.fixture
def fake():
    """A stand-in target: its requests go to like_envoy, not the network."""
    def send(path: str = "/", **kwargs) -> labkit.Response:
        return labkit.curl("http://127.0.0.1:10000", path, transport=httpx.MockTransport(like_envoy),
                           **kwargs)
    return send


@pytest.fixture(scope="module")
def envoy(add_header):
    envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(add_header[1])), name=unique("http"))
    envoy.start()
    yield envoy
    envoy.stop()


def test_curl_and_expectations_pass(fake, capsys):
    r = fake("/some/path", headers={"x-from-test": "1"})
    assert isinstance(r, labkit.Response)
    assert r.status == 200
    assert r.text == "Hello world\n"
    assert r.headers["my-new-header"] == "some-value-here"
    assert r.request_line == "GET /some/path HTTP/1.1"
    assert (r.expect_status(200)
             .expect_header("my-new-header", "some-value-here")
             .expect_header("my-new-header")
             .expect_no_header("x-not-there")
             .expect_body("Hello")) is r
    printed = capsys.readouterr().out
    assert "status is 200" in printed and "my-new-header: some-value-here" in printed


@pytest.mark.envoy
def test_curl_a_real_envoy(envoy):
    r = labkit.curl(envoy, "/some/path")
    assert (r.status, r.text, r.headers["my-new-header"]) == (200, "Hello world\n", "some-value-here")
    assert r.headers["server"] == "envoy"
    assert set(ENVOY_HEADERS) <= set(r.headers)  # the fake above answers like this Envoy


@pytest.mark.envoy
def test_curl_by_url_and_method(envoy):
    r = labkit.curl(envoy.url, "/x", method="POST", body="payload")
    assert r.status == 200
    assert r.request_line == "POST /x HTTP/1.1"
    assert labkit.curl(f"{envoy.url}/abs").status == 200


@pytest.mark.envoy
def test_curl_a_full_url_as_given(envoy):
    r = labkit.curl(f"{envoy.admin_url}/stats/prometheus")
    assert r.request_line == "GET /stats/prometheus HTTP/1.1"
    assert r.status == 200 and "# TYPE envoy_" in r.text
    assert labkit.curl(envoy.admin_url, "/ready").text.strip() == "LIVE"


def test_missing_header_names_it_and_lists_the_present_ones(fake):
    r = fake()
    with pytest.raises(labkit.CheckFailed) as info:
        r.expect_header("x-absent-header", "v")
    msg = info.value.message
    assert "'x-absent-header'" in msg and "missing" in msg
    present = msg.split("headers present:")[1]
    for name in ("my-new-header", "server", "content-length", "content-type"):
        assert name in present
    assert info.value.fix
    assert isinstance(info.value, AssertionError)


def test_wrong_header_value(fake):
    r = fake()
    with pytest.raises(labkit.CheckFailed) as info:
        r.expect_header("my-new-header", "other-value")
    assert info.value.message == (
        "expected response header my-new-header='other-value', got my-new-header='some-value-here'")


def test_wrong_status_and_body(fake):
    r = fake()
    with pytest.raises(labkit.CheckFailed, match="expected status 404, got 200") as info:
        r.expect_status(404)
    assert "< HTTP/1.1 200 OK" in info.value.cause
    with pytest.raises(labkit.CheckFailed, match="expected the body to contain 'Goodbye'"):
        r.expect_body("Goodbye")
    with pytest.raises(labkit.CheckFailed, match="expected no response header 'my-new-header'"):
        r.expect_no_header("my-new-header")


def test_verbose_looks_like_curl_v(fake):
    r = fake(headers={"hello": "world"})
    text = r.verbose()
    lines = text.splitlines()
    assert lines[0] == "> GET / HTTP/1.1"
    assert "> hello: world" in lines
    assert "< HTTP/1.1 200 OK" in lines
    assert "< my-new-header: some-value-here" in lines
    assert lines[-1] == "Hello world"
    assert repr(r) == text
    assert "my-new-header" in r._repr_html_()


def test_closed_port_is_an_http_error():
    port = labkit.free_port()
    with pytest.raises(labkit.HTTPError, match="could not connect") as info:
        labkit.curl(f"http://127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in info.value.message
    assert info.value.fix


def test_a_connection_reset_is_an_http_error():
    """What a client meets while an Envoy restarts: the request is cut, not answered."""
    def reset(request):
        raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)

    with pytest.raises(labkit.HTTPError, match="broke before an answer came") as info:
        labkit.curl("http://127.0.0.1:10000", transport=httpx.MockTransport(reset))
    assert "Connection reset by peer" in info.value.cause


def test_invalid_http_answer_is_an_http_error():
    """A filter can add a header name HTTP forbids (Envoy sends it anyway): say so."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_once():
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n"
                         b"# headers to add, one name: value per line\r\n\r\n")

    threading.Thread(target=answer_once, daemon=True).start()
    try:
        with pytest.raises(labkit.HTTPError, match="not valid HTTP") as info:
            labkit.curl(f"http://127.0.0.1:{port}", timeout=3)
        assert "# headers to add" in info.value.cause
        assert "AddHttpResponseHeader" in info.value.fix
    finally:
        server.close()


def test_stopped_envoy_says_it_is_not_running():
    envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter("/nowhere/main.wasm")), name=unique("never"))
    envoy.port = labkit.free_port()
    with pytest.raises(labkit.HTTPError, match="not running"):
        labkit.curl(envoy)
