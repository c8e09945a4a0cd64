"""The CLI's HTTP client: addresses, and every failure mapped to one readable ClientError."""

from __future__ import annotations

import httpx
import pytest

from corral.net.client import Client, ClientError, base_url


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.1:5050", "http://127.0.0.1:5050"),
        ("master1", "http://master1:5050"),
        ("http://h:1/", "http://h:1"),
        ("[::1]", "http://[::1]:5050"),
        ("[::1]:6000", "http://[::1]:6000"),
    ],
)
def test_base_url(address: str, url: str) -> None:
    assert base_url(address) == url


@pytest.mark.parametrize("address", ["", "zk://h:2181/mesos", "ftp://h", "h:x", ":80"])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ClientError):
        base_url(address)


def client(handler: httpx.MockTransport) -> Client:
    return Client("127.0.0.1:5050", transport=handler)


def test_json_answer() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": [1]}))
    assert client(transport).get_json("/master/state") == {"ok": [1]}


def test_error_status_is_one_line_with_the_status() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="no such file\nmore"))
    with pytest.raises(ClientError) as info:
        client(transport).get_json("/files/read", {"path": "/x"})
    assert info.value.status == 404
    assert (
        str(info.value)
        == "GET /files/read on the master at 127.0.0.1:5050 answered 404 Not Found: no such file"
    )


def test_refused_connection() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ClientError) as info:
        client(httpx.MockTransport(refuse)).get_json("/master/state")
    assert info.value.status is None
    assert str(info.value) == "cannot reach the master at 127.0.0.1:5050: connection refused"


def test_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ClientError, match="timed out waiting for an answer"):
        client(httpx.MockTransport(slow)).get_json("/master/state")


def test_not_json() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>"))
    with pytest.raises(ClientError, match="did not answer JSON"):
        client(transport).get_json("/master/state")


def test_real_refused_port() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(ClientError, match=f"cannot reach the master at 127.0.0.1:{port}: "):
            Client(f"127.0.0.1:{port}").get_json("/master/health")
