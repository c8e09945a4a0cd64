"""Master and ZooKeeper URLs as Mesos spells them (pure: no I/O; a `file://` URL's reader is an argument).

- `zk://host1:2181,host2:2181/mesos`: servers (port 2181 when omitted; IPv6 as `[::1]:2181`) and a path
  (`/` when omitted). `zk://user:pass@host:2181/path` adds digest credentials, as in `src/zookeeper/url.cpp`
  (what precedes the last `@` before the path, so a password may contain `@`).
- `file:///etc/mesos/zk`: a file whose (stripped) content is one of the other forms; one level only.
- `host:port` (port 5050 when omitted): a fixed master, no ZooKeeper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from corral.core.errors import CorralError

DEFAULT_ZK_PORT = 2181
DEFAULT_MASTER_PORT = 5050


class InvalidUrl(CorralError):
    """A master or ZooKeeper URL that cannot be parsed; the message says why."""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ZkUrl:
    servers: tuple[HostPort, ...]
    path: str = "/"
    credentials: tuple[str, str] | None = None

    @property
    def hosts(self) -> str:
        """The connection string for kazoo (`h1:2181,h2:2181`), without the path: Corral uses no chroot."""
        return ",".join(str(s) for s in self.servers)

    @property
    def digest(self) -> str | None:
        """`user:password` for ZooKeeper's digest authentication, when the URL has credentials."""
        return None if self.credentials is None else ":".join(self.credentials)

    def child(self, *names: str) -> str:
        """An absolute znode path under this URL's path: `ZkUrl(..., "/mesos").child("x")` is `/mesos/x`."""
        return join_path(self.path, *names)

    @property
    def unmasked(self) -> str:
        """The URL as given, password included (to pass on, never to log)."""
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"zk://{auth}{self.hosts}{self.path}"

    def __str__(self) -> str:
        """The URL with the password masked (safe to log)."""
        auth = f"{self.credentials[0]}:***@" if self.credentials else ""
        return f"zk://{auth}{self.hosts}{self.path}"


def join_path(base: str, *names: str) -> str:
    parts = [p for p in base.split("/") if p]
    for name in names:
        parts += [p for p in name.split("/") if p]
    return "/" + "/".join(parts)


def parse_host_port(text: str, default_port: int) -> HostPort:
    text = text.strip()
    if text.startswith("["):  # [v6]:port
        end = text.find("]")
        if end < 0:
            raise InvalidUrl(f"{text!r}: unclosed '[' in an IPv6 address")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidUrl(f"{text!r}: expected ':port' after ']'")
        port_text = rest[1:] if rest else ""
    elif text.count(":") > 1:
        raise InvalidUrl(f"{text!r}: write an IPv6 address in brackets, as [::1]:{default_port}")
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise InvalidUrl(f"{text!r}: empty host")
    if not port_text:
        return HostPort(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidUrl(f"{text!r}: port must be a number in 1..65535")
    return HostPort(host, int(port_text))


def parse_zk_url(text: str) -> ZkUrl:
    text = text.strip()
    if not text.startswith("zk://"):
        raise InvalidUrl(f"{text!r}: expected a URL starting with 'zk://'")
    rest = text[len("zk://") :]
    slash = rest.find("/")
    authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    credentials = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if not user or not colon:
            raise InvalidUrl(f"{str_masked(text)}: credentials must be 'user:password@'")
        credentials = (user, password)
    if not authority:
        raise InvalidUrl(f"{str_masked(text)}: no ZooKeeper servers")
    servers = tuple(parse_host_port(s, DEFAULT_ZK_PORT) for s in authority.split(","))
    if any(seg in (".", "..") for seg in path.split("/")) or "//" in path:
        raise InvalidUrl(f"{str_masked(text)}: invalid path {path!r}")
    return ZkUrl(servers=servers, path=join_path(path), credentials=credentials)


def str_masked(text: str) -> str:
    """`text` with any `user:password@` password replaced by `***`, for error messages and logs. The
    credentials end at the last `@` before the path, as `parse_zk_url` reads them: a password may hold `@`."""
    scheme, sep, rest = text.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return text
    userinfo, _, hosts = authority.rpartition("@")
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{hosts}{slash}{path}"


def parse_master(text: str, read_file: Callable[[str], str]) -> ZkUrl | HostPort:
    """A `--master`/`--zk` value: `zk://...`, `file:///path` (read with `read_file`), or `host:port`."""
    text = text.strip()
    if text.startswith("file://"):
        path = text[len("file://") :]
        if not path.startswith("/"):
            raise InvalidUrl(f"{text!r}: a file URL needs an absolute path (file:///path)")
        try:
            content = read_file(path).strip()
        except OSError as e:
            raise InvalidUrl(f"{text!r}: cannot read: {e.strerror or e}") from None
        if content.startswith("file://"):
            raise InvalidUrl(f"{text!r}: the file names another file; one level of indirection only")
        return parse_master(content, read_file)
    if text.startswith("zk://"):
        return parse_zk_url(text)
    if "://" in text:
        raise InvalidUrl(f"{text!r}: expected zk://, file:// or host:port")
    return parse_host_port(text, DEFAULT_MASTER_PORT)
