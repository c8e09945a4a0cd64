"""HTTPS from `corral.net.serve` with a `TlsConfig`, over loopback, against a CA made for the test: a
verifying client is answered; a plain-HTTP client, a client trusting another CA, a TLS 1.1 client and (when
required) a client without a certificate are not; a client that never finishes its handshake is closed."""

from __future__ import annotations

import asyncio
import ssl
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from starlette.types import Receive, Scope, Send
from support.serving import serving

from corral.net.serve import Limits, make_socket
from corral.net.tls import TlsConfig, load_tls
from corral.testing.certs import Pki, pki_fixture

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
DEADLINE = 30.0


pki = pki_fixture()
other = pki_fixture("other")


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    body = f"hello over {scope['scheme']}".encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def served(tls: TlsConfig, limits: Limits | None = None) -> AbstractAsyncContextManager[int]:
    """`hello` served with `tls` on a free loopback port, in this event loop."""
    sock = make_socket(HOST, 0)
    return serving(hello, sock, deadline=DEADLINE, name="hello", limits=limits, tls=tls.server)


async def get(url: str, verify: ssl.SSLContext | bool) -> httpx.Response:
    async with httpx.AsyncClient(verify=verify, trust_env=False, timeout=DEADLINE) as client:
        return await client.get(url)


async def test_a_verifying_client_is_answered_over_https(pki: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    async with served(tls) as port:
        response = await get(tls.url(f"{HOST}:{port}", "/"), tls.verify)
    assert response.status_code == 200
    assert response.text == "hello over https"


async def test_a_plain_http_client_gets_nothing(pki: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    async with served(tls) as port:
        with pytest.raises(httpx.RemoteProtocolError):
            await get(f"http://{HOST}:{port}/", True)
        assert (await get(tls.url(f"{HOST}:{port}"), tls.verify)).status_code == 200


async def test_a_client_trusting_another_ca_refuses_the_server(pki: Pki, other: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    async with served(tls) as port:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await get(f"https://{HOST}:{port}/", load_tls(ca=other.ca).verify)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await get(f"https://{HOST}:{port}/", True)  # the system's CAs


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_tls_before_1_2_is_refused(pki: Pki) -> None:
    """The client offers TLS 1.0 and 1.1 only, with any cipher (OpenSSL lets it: a server that allowed them
    would be reached)."""
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(pki.ca)
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.set_ciphers("ALL:@SECLEVEL=0")
    async with served(tls) as port:
        with pytest.raises(httpx.ConnectError):
            await get(f"https://{HOST}:{port}/", old)


async def test_required_client_certificates(pki: Pki, other: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca, require_client_cert=True)
    async with served(tls) as port:
        url = tls.url(f"{HOST}:{port}", "/")
        assert (await get(url, tls.verify)).status_code == 200  # it presents the daemon's certificate
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
            await get(url, load_tls(ca=pki.ca).verify)  # no certificate
        stranger = load_tls(cert=other.cert, key=other.key, ca=pki.ca)  # a certificate of another CA
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
            await get(url, stranger.verify)


async def test_a_handshake_that_never_finishes_is_closed(pki: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    async with served(tls, Limits(header_timeout=1.0)) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"\x16\x03\x01")  # the start of a ClientHello, and nothing more
        async with asyncio.timeout(DEADLINE):
            assert await reader.read() == b""
        writer.close()
        assert (await get(tls.url(f"{HOST}:{port}"), tls.verify)).status_code == 200
