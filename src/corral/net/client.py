"""A small HTTP client for Corral's JSON endpoints, used by the CLI.

Every failure, whatever its cause (refused connection, timeout, an error status, a body that is not JSON),
surfaces as one `ClientError` whose message names the daemon, the request and the cause in one line, so a
command can print it and exit without a traceback. Environment proxies are ignored (`trust_env=False`):
Corral's daemons are addressed directly.

TLS: an `https://` address is verified against the system's CAs, or against `$CORRAL_SSL_CA` (the CLI's
`--ssl_ca`); once that is set, an address without a scheme is https too. `$CORRAL_SSL_CERT` and
`$CORRAL_SSL_KEY` give the client certificate for daemons that require one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import httpx

from corral.core.errors import CorralError, DecodeError
from corral.net.tls import TlsConfig, TlsError, load_tls
from corral.protocol.json import JsonValue, dumps, loads

DEFAULT_TIMEOUT = 5.0
Params = Mapping[str, str | int | float]
ENV_CA, ENV_CERT, ENV_KEY = "CORRAL_SSL_CA", "CORRAL_SSL_CERT", "CORRAL_SSL_KEY"


class ClientError(CorralError):
    """A request to a Corral daemon failed; `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def cli_tls(environ: Mapping[str, str] = os.environ) -> TlsConfig:
    """The CLI's TLS settings, from `$CORRAL_SSL_CA`, `$CORRAL_SSL_CERT` and `$CORRAL_SSL_KEY`."""

    def path(name: str) -> Path | None:
        value = environ.get(name)
        return Path(value) if value else None

    try:
        return load_tls(cert=path(ENV_CERT), key=path(ENV_KEY), ca=path(ENV_CA))
    except TlsError as e:
        raise ClientError(f"TLS settings (${ENV_CA}, ${ENV_CERT}, ${ENV_KEY}): {e}") from None


def _cli_scheme(environ: Mapping[str, str] = os.environ) -> str:
    """`cli_tls().scheme`, without reading the files."""
    return "https" if environ.get(ENV_CA) or environ.get(ENV_CERT) else "http"


def base_url(address: str, *, default_port: int = 5050, scheme: str | None = None) -> str:
    """`host:port`, `host` or `http(s)://host:port` -> `http(s)://host:port` (no trailing slash). An address
    without a scheme gets `scheme`, by default the CLI's (https once `$CORRAL_SSL_CA` is set)."""
    scheme = scheme or _cli_scheme()
    text = address.strip().rstrip("/")
    if not text:
        raise ClientError("empty address")
    if text.startswith(("zk://", "zoo://")):
        raise ClientError(f"{text}: ZooKeeper master URLs are not supported yet; give host:port")
    if "://" in text:
        given = text.split("://", 1)[0]
        if given not in ("http", "https"):
            raise ClientError(f"{text}: unsupported scheme {given!r}; give host:port")
        return text
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:  # bare host or bare IPv6 literal
        return f"{scheme}://{text}:{default_port}"
    if not port.isdigit() or not host:
        raise ClientError(f"{address!r} is not host:port")
    return f"{scheme}://{text}"


def explain(response: httpx.Response) -> str:
    """The readable part of an error answer: a JSON body's `message`, else the body's first line."""
    text = response.text.strip()
    try:
        body = loads(response.content)
    except DecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return " ".join(str(body["message"]).split())[:300]
    return " ".join(text.splitlines()[0].split())[:300] if text else ""


def _describe(error: httpx.HTTPError) -> str:
    match error:
        case httpx.ConnectTimeout():
            return "connection timed out"
        case httpx.ConnectError():
            cause = str(error).split("] ", 1)[-1] or "connection failed"
            return cause[0].lower() + cause[1:]
        case httpx.TimeoutException():
            return "timed out waiting for an answer"
        case httpx.RemoteProtocolError():
            return "the connection was closed unexpectedly"
        case _:
            return str(error) or type(error).__name__


class Client:
    """A synchronous JSON client for one daemon (`name` appears in error messages: "master", "agent")."""

    def __init__(
        self,
        address: str,
        *,
        name: str = "master",
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        explain_error: Callable[[httpx.Response], str] = explain,
        auth: httpx.Auth | None = None,
        unauthorized_hint: str = "",
        tls: TlsConfig | None = None,
    ) -> None:
        """`explain_error` turns an error answer into words (Marathon, say, lists its validation details);
        `auth` proves who calls, and `unauthorized_hint` says what to do when the daemon answers 401. `tls`
        defaults to the CLI's (`cli_tls`)."""
        self.address = address
        self.name = name
        self._explain = explain_error
        self._unauthorized_hint = unauthorized_hint
        tls = tls if tls is not None else cli_tls()
        self.base_url = base_url(address, scheme=tls.scheme)
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            trust_env=False,
            transport=transport,
            auth=auth,
            verify=tls.verify,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, json: JsonValue = None, params: Params | None = None
    ) -> httpx.Response:
        """One request (a JSON body if `json` is not None); raises ClientError unless the answer is 2xx."""
        netloc = self.base_url.split("://", 1)[-1]
        where = f"{self.name} at {netloc}"
        try:
            body = None if json is None else dumps(json)
            headers = None if json is None else {"Content-Type": "application/json"}
            response = self._http.request(method, path, content=body, params=params, headers=headers)
        except httpx.HTTPError as e:
            plain = self.base_url.startswith("http://") and isinstance(e, httpx.RemoteProtocolError)
            hint = f" (if it serves HTTPS: https://{netloc}, or set ${ENV_CA})" if plain else ""
            raise ClientError(f"cannot reach the {where}: {_describe(e)}{hint}") from None
        if not response.is_success:
            detail = self._explain(response)
            if response.status_code == 401 and self._unauthorized_hint:
                detail = "; ".join(filter(None, [detail, self._unauthorized_hint]))
            reason = f"{response.status_code} {response.reason_phrase}" + (f": {detail}" if detail else "")
            message = f"{method} {path} on the {where} answered {reason}"
            raise ClientError(message, status=response.status_code)
        return response

    def request_json(
        self, method: str, path: str, *, json: JsonValue = None, params: Params | None = None
    ) -> JsonValue:
        """`request`, the answer decoded (None for an empty body)."""
        response = self.request(method, path, json=json, params=params)
        if not response.content.strip():
            return None
        try:
            return loads(response.content)
        except DecodeError as e:
            raise ClientError(f"{method} {path} on the {self.name} did not answer JSON ({e})") from None

    def get(self, path: str, params: Params | None = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    def get_json(self, path: str, params: Params | None = None) -> JsonValue:
        return self.request_json("GET", path, params=params)
