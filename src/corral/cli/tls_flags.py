"""The transport flags every daemon shares: TLS (`--ssl_cert`, `--ssl_key`, `--ssl_ca`,
`--ssl_require_client_cert`) and `--max_request_bytes`.

A command decorated with `tls_flags(...)` receives the four TLS flags checked and the files loaded, as one
argument `tls: TlsConfig` (reliability-security.md 4.1): with a certificate the daemon serves HTTPS only and
speaks HTTPS to its peers. Like every flag they are read from the daemon's environment too
(`MESOS_SSL_CERT`, `MARATHON_SSL_CA`, ...); the master and the agent also read upstream's libprocess names
(`LIBPROCESS_SSL_CERT_FILE`, `_KEY_FILE`, `_CA_FILE`, `LIBPROCESS_SSL_REQUIRE_CLIENT_CERT`). A certificate
is what turns TLS on: `LIBPROCESS_SSL_ENABLED` is not read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from corral.cli.flags import flag, stacked
from corral.net.tls import TlsError, load_tls

F = TypeVar("F", bound=Callable[..., Any])

_PEM = click.Path(exists=True, dir_okay=False, path_type=Path)
_LIBPROCESS = {
    "ssl_cert": "LIBPROCESS_SSL_CERT_FILE",
    "ssl_key": "LIBPROCESS_SSL_KEY_FILE",
    "ssl_ca": "LIBPROCESS_SSL_CA_FILE",
    "ssl_require_client_cert": "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT",
}


def tls_flags(
    *, env_prefix: str = "MESOS", libprocess: bool = False, serves: bool = True
) -> Callable[[F], F]:
    """Add the TLS flags to a daemon command, which receives `tls: TlsConfig` instead. `serves`: the daemon
    has an HTTP server (a CA alone is then an error); else the flags only configure its clients."""

    def option(name: str, **kwargs: Any) -> Callable[[F], F]:
        also = (_LIBPROCESS[name],) if libprocess else ()
        return flag(name, env_prefix=env_prefix, also_env=also, **kwargs)

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(
            *args: Any,
            ssl_cert: Path | None,
            ssl_key: Path | None,
            ssl_ca: Path | None,
            ssl_require_client_cert: bool = False,
            **kwargs: Any,
        ) -> Any:
            if serves and ssl_ca is not None and ssl_cert is None:
                raise click.UsageError(
                    "--ssl_ca needs --ssl_cert and --ssl_key: a daemon that reaches its peers over TLS "
                    "serves TLS too"
                )
            try:
                tls = load_tls(
                    cert=ssl_cert, key=ssl_key, ca=ssl_ca, require_client_cert=ssl_require_client_cert
                )
            except TlsError as e:
                raise click.UsageError(f"TLS: {e}") from None
            return command(*args, tls=tls, **kwargs)

        presented = "served, and presented to peers" if serves else "presented to the daemons it calls"
        decorators = [
            option("ssl_cert", type=_PEM, help=f"PEM certificate (chain) {presented}; turns TLS on."),
            option("ssl_key", type=_PEM, help="PEM private key of --ssl_cert."),
            option(
                "ssl_ca",
                type=_PEM,
                help="PEM CA certificates that peers' certificates are verified against (default: the "
                "system's).",
            ),
        ]
        if serves:
            decorators.append(
                option(
                    "ssl_require_client_cert",
                    is_flag=True,
                    help="Refuse clients without a certificate signed by --ssl_ca.",
                )
            )
        decorated: Any = stacked(decorators)(wrapper)
        return decorated  # type: ignore[no-any-return]

    return decorate


def max_request_bytes_flag(default: int, *, env_prefix: str = "MESOS") -> Callable[[F], F]:
    """`--max_request_bytes`: larger request bodies are refused with 413 before they are read."""
    return flag(
        "max_request_bytes",
        env_prefix=env_prefix,
        type=click.IntRange(1024),
        default=default,
        help="Refuse (413) request bodies of more bytes than this, before reading them.",
    )
