"""marathon-lb's app labels (marathon.md e.3), read per service port with their defaults.

`{n}` is the service-port index. Supported: `HAPROXY_GROUP`, and per service port `HAPROXY_{n}_` followed by
`GROUP`, `ENABLED`, `VHOST`, `PATH`, `MODE`, `PORT`, `BIND_ADDR`, `BALANCE`, `STICKY`, `REDIRECT_TO_HTTPS`,
`USE_HSTS` or `SSL_CERT`. Every value that reaches the config is checked against a strict pattern, so a
label can never inject HAProxy directives (a newline or `#` in a value is an error, not a new line). Other
`HAPROXY_*` labels (marathon-lb's template overrides, blue/green deployment groups) are reported as
unsupported.

Mode: `tcp` by default; `http` when the port has a vhost or an HTTP(S) health check (marathon-lb's rule), or
when `HAPROXY_{n}_MODE` says so. Sticky sessions (a cookie), HSTS and the redirect to HTTPS need HTTP mode;
the redirect also needs a vhost, as upstream documents.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

BALANCE_ALGORITHMS = ("roundrobin", "static-rr", "leastconn", "first", "source", "random", "uri")
PER_PORT = (
    "GROUP",
    "ENABLED",
    "VHOST",
    "PATH",
    "MODE",
    "PORT",
    "BIND_ADDR",
    "BALANCE",
    "STICKY",
    "REDIRECT_TO_HTTPS",
    "USE_HSTS",
    "SSL_CERT",
)
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&()*+,;=:@%/-]*$")
_FILE = re.compile(r"^/[A-Za-z0-9._+@%/-]+$")
_GROUP = re.compile(r"^[A-Za-z0-9._*-]+$")
_PER_PORT = re.compile(r"^HAPROXY_(\d+)_(.+)$")


class Mode(StrEnum):
    TCP = "tcp"
    HTTP = "http"


@dataclass(frozen=True, slots=True, kw_only=True)
class PortSettings:
    """What the labels say about one service port, defaults applied."""

    groups: frozenset[str] = frozenset()
    enabled: bool = True
    vhosts: tuple[str, ...] = ()
    path: str | None = None
    mode: Mode = Mode.TCP
    port: int | None = None  # bind port instead of the service port
    bind_address: str | None = None
    balance: str = "roundrobin"
    sticky: bool = False
    redirect_to_https: bool = False
    use_hsts: bool = False
    ssl_cert: str | None = None


@dataclass(frozen=True, slots=True)
class LabelErrors:
    messages: tuple[str, ...]  # each names the label and what is wrong with its value


class _Reader:
    """Reads the labels of service port `index`, collecting one message per bad value."""

    def __init__(self, labels: Mapping[str, str], index: int) -> None:
        self.labels = labels
        self.index = index
        self.errors: list[str] = []

    def raw(self, name: str) -> tuple[str, str | None]:
        key = f"HAPROXY_{self.index}_{name}"
        return key, self.labels.get(key)

    def fail(self, key: str, value: str, why: str) -> None:
        self.errors.append(f"{key}={value!r}: {why}")

    def flag(self, name: str, default: bool) -> bool:
        key, value = self.raw(name)
        if value is None:
            return default
        if value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        self.fail(key, value, "expected true or false")
        return default

    def groups(self) -> frozenset[str]:
        key, value = self.raw("GROUP")
        if value is None:
            key, value = "HAPROXY_GROUP", self.labels.get("HAPROXY_GROUP")
        if value is None:
            return frozenset()
        names = split_list(value)
        if not all(_GROUP.match(n) for n in names):
            self.fail(key, value, "expected a comma-separated list of group names")
            return frozenset()
        return frozenset(names)

    def vhosts(self) -> tuple[str, ...]:
        key, value = self.raw("VHOST")
        if value is None:
            return ()
        names = split_list(value)
        if not names or not all(_HOSTNAME.match(n) for n in names):
            self.fail(key, value, "expected a comma-separated list of host names")
            return ()
        return tuple(dict.fromkeys(n.lower() for n in names))

    def matching(self, name: str, pattern: re.Pattern[str], why: str) -> str | None:
        key, value = self.raw(name)
        if value is None:
            return None
        if not pattern.match(value):
            self.fail(key, value, why)
            return None
        return value

    def port(self) -> int | None:
        key, value = self.raw("PORT")
        if value is None:
            return None
        if value.strip().isdigit() and 0 < int(value) < 65536:
            return int(value)
        self.fail(key, value, "expected a port number between 1 and 65535")
        return None

    def bind_address(self) -> str | None:
        key, value = self.raw("BIND_ADDR")
        if value is None or value == "*":
            return value
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            self.fail(key, value, "expected an IP address or *")
            return None

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        key, value = self.raw(name)
        if value is None:
            return default
        if value.strip().lower() in choices:
            return value.strip().lower()
        self.fail(key, value, f"expected one of {', '.join(choices)}")
        return default


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def port_settings(labels: Mapping[str, str], index: int, *, http_check: bool) -> PortSettings | LabelErrors:
    """The settings of service port `index`; `http_check` is whether an HTTP(S) health check covers it."""
    read = _Reader(labels, index)
    vhosts = read.vhosts()
    explicit_mode = read.choice("MODE", tuple(Mode), "")
    mode = Mode(explicit_mode) if explicit_mode else (Mode.HTTP if vhosts or http_check else Mode.TCP)
    settings = PortSettings(
        groups=read.groups(),
        enabled=read.flag("ENABLED", True),
        vhosts=vhosts,
        path=read.matching("PATH", _PATH, "expected a URL path starting with /"),
        mode=mode,
        port=read.port(),
        bind_address=read.bind_address(),
        balance=read.choice("BALANCE", BALANCE_ALGORITHMS, "roundrobin"),
        sticky=read.flag("STICKY", False),
        redirect_to_https=read.flag("REDIRECT_TO_HTTPS", False),
        use_hsts=read.flag("USE_HSTS", False),
        ssl_cert=read.matching("SSL_CERT", _FILE, "expected an absolute file path"),
    )
    errors = read.errors + _conflicts(settings, index)
    return LabelErrors(tuple(errors)) if errors else settings


def _conflicts(settings: PortSettings, index: int) -> list[str]:
    prefix = f"HAPROXY_{index}_"
    out: list[str] = []
    if settings.mode is Mode.TCP:
        needs_http = [("VHOST", bool(settings.vhosts)), ("STICKY", settings.sticky)]
        needs_http += [("USE_HSTS", settings.use_hsts), ("REDIRECT_TO_HTTPS", settings.redirect_to_https)]
        out += [f"{prefix}{name} needs HTTP mode, but {prefix}MODE is tcp" for name, on in needs_http if on]
    if settings.redirect_to_https and not settings.vhosts:
        out.append(f"{prefix}REDIRECT_TO_HTTPS needs {prefix}VHOST")
    if settings.path is not None and not settings.vhosts:
        out.append(f"{prefix}PATH needs {prefix}VHOST")
    return out


def unsupported(labels: Mapping[str, str]) -> tuple[str, ...]:
    """The `HAPROXY_*` labels this bridge does not read, sorted (they are ignored, and reported)."""
    out: list[str] = []
    for key in labels:
        if not key.startswith("HAPROXY_") or key == "HAPROXY_GROUP":
            continue
        match = _PER_PORT.match(key)
        if match is None or match[2] not in PER_PORT:
            out.append(key)
    return tuple(sorted(out))
