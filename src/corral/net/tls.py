"""TLS for Corral's servers and the clients they use to reach each other.

One setting per process, as upstream's libprocess has one for the whole cluster (`LIBPROCESS_SSL_*`,
reliability-security.md 4.1): `load_tls` reads the PEM files once at start-up (a bad file is a `TlsError`
naming it) and returns an immutable `TlsConfig`, which is handed explicitly to what serves or calls:

- `server`: the listening sockets' context. TLS 1.2 or later, forward-secret AEAD ciphers only (upstream's
  legacy default list still names RC4); with `require_client_cert`, a client must present a certificate
  that the CA signed.
- `verify`: what HTTP clients verify their peers with (httpx's `verify=`): the CA file, else the system's
  CAs, host names checked. They present this process's own certificate, so a cluster that requires client
  certificates works with one key pair per host (libprocess also uses one certificate both ways).
- `scheme`: `https` once a certificate or a CA is configured, for the URLs built to reach peers. Peers are
  addressed as they advertise themselves (an IP, usually), so their certificates name that address.

`PLAIN` is plain HTTP, the default everywhere.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corral.core.errors import CorralError

# TLS 1.2 suites with ECDHE key exchange and an AEAD cipher; TLS 1.3's suites are all of that kind already.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class TlsError(CorralError):
    """A certificate, key or CA file cannot be used; the message names the file and the reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    server: ssl.SSLContext | None = None  # None: serve plain HTTP
    verify: ssl.SSLContext | bool = True
    scheme: Literal["http", "https"] = "http"

    def url(self, address: str, path: str = "") -> str:
        """`host:port` (and a path) as a URL in this process's scheme."""
        return f"{self.scheme}://{address}{path}"


PLAIN = TlsConfig()


def load_tls(
    *,
    cert: Path | None = None,
    key: Path | None = None,
    ca: Path | None = None,
    require_client_cert: bool = False,
) -> TlsConfig:
    """A TlsConfig from PEM files: `cert` and `key` (together) to serve and to present as a client, `ca` to
    verify peers with; nothing given is PLAIN. Raises TlsError for an unreadable or mismatched file, for a
    certificate without its key, and for `require_client_cert` without a CA to check clients against."""
    if (cert is None) != (key is None):
        raise TlsError("a certificate and its key go together: give both or neither")
    if require_client_cert and (ca is None or cert is None):
        raise TlsError("requiring client certificates needs a certificate to serve and a CA to check them")
    if cert is None and ca is None:
        return PLAIN
    server = None
    if cert is not None and key is not None:
        server = _hardened(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
        _load_chain(server, cert, key)
        if require_client_cert and ca is not None:
            _load_ca(server, ca)
            server.verify_mode = ssl.CERT_REQUIRED
    client = _hardened(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # CERT_REQUIRED, host names checked
    if ca is not None:
        _load_ca(client, ca)
    else:
        client.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert is not None and key is not None:
        _load_chain(client, cert, key)
    return TlsConfig(server=server, verify=client, scheme="https")


def _hardened(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    return context


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise TlsError(f"cannot use the certificate {cert} with the key {key}: {_reason(e)}") from None


def _load_ca(context: ssl.SSLContext, ca: Path) -> None:
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as e:
        raise TlsError(f"cannot use the CA file {ca}: {_reason(e)}") from None


# OpenSSL's reasons, in words.
_REASONS: dict[str | None, str] = {
    "KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
    "NO_CERTIFICATE_OR_CRL_FOUND": "no PEM certificate in it",
    None: "not PEM (a certificate, then its key)",
}


def _reason(error: OSError | ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLError):
        return _REASONS.get(error.reason, error.reason or str(error))
    return error.strerror or str(error)
