"""Principals and their secrets: the files and flags that name them, and checking a presented pair.

Formats, as upstream:
- Mesos `--credentials` (master): JSON `{"credentials": [{"principal": "p", "secret": "s"}]}`, or text with
  one `principal secret` pair a line. Given as a path, `file://` + path, or the JSON itself.
- Mesos `--credential` (agent) and a framework's secret: one pair, JSON `{"principal", "secret"}` or one line.
- Marathon and Chronos `--http_credentials`: `user:password` (the user holds no colon); Corral also takes a
  comma-separated list of them.

Checking a pair costs the same whatever the input: every entry is compared with `hmac.compare_digest`, so
neither a principal's existence nor how much of a secret matched shows in the response time (CVE-2018-8023).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from corral.core.errors import CorralError, DecodeError
from corral.protocol.json import Reader, loads


class CredentialsError(CorralError):
    """A credentials file or flag cannot be used; the message names it (never the secrets)."""


@dataclass(frozen=True, slots=True)
class Credential:
    """One principal and its secret, as a client presents them."""

    principal: str
    secret: str

    def __repr__(self) -> str:  # keeps the secret out of logs and tracebacks
        return f"Credential(principal={self.principal!r}, secret='***')"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The principals a daemon accepts."""

    secrets: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Credentials(principals={sorted(self.secrets)!r})"

    def verify(self, principal: str, secret: str) -> bool:
        """Whether `principal` and `secret` match an entry, in time independent of which part differs."""
        given_principal, given_secret = principal.encode(), secret.encode()
        found = False
        for known_principal, known_secret in self.secrets.items():
            same_principal = hmac.compare_digest(given_principal, known_principal.encode())
            same_secret = hmac.compare_digest(given_secret, known_secret.encode())
            found |= same_principal & same_secret
        return found


def _source_text(value: str, what: str) -> tuple[str, str]:
    """(text, where): `value` is a path, a `file://` URL, or the document itself (starting with `{`)."""
    text = value.strip()
    if text.startswith("{"):
        return text, what
    path = Path(text.removeprefix("file://"))
    try:
        return path.read_text(), f"{what} file {path}"
    except OSError as e:
        raise CredentialsError(f"cannot read the {what} file {path}: {e.strerror or e}") from None


def _pair(r: Reader) -> Credential:
    principal, secret = r.text("principal"), r.text("secret")
    if not principal:
        raise DecodeError(f"{r.path}.principal" if r.path else "principal", "must not be empty")
    return Credential(principal, secret)


def _text_pairs(text: str, where: str) -> list[Credential]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2:
            raise CredentialsError(f"{where}, line {number}: expected 'principal secret'")
        out.append(Credential(words[0], words[1]))
    return out


def parse_credentials(value: str, *, what: str = "--credentials") -> Credentials:
    """Mesos' `--credentials`: every principal the master accepts."""
    text, where = _source_text(value, what)
    try:
        if text.lstrip().startswith("{"):
            pairs = list(Reader(loads(text)).each("credentials", _pair))
        else:
            pairs = _text_pairs(text, where)
    except DecodeError as e:
        raise CredentialsError(f"{where}: {e}") from None
    if not pairs:
        raise CredentialsError(f"{where} names no principal")
    return Credentials({pair.principal: pair.secret for pair in pairs})


def parse_credential(value: str, *, what: str = "--credential") -> Credential:
    """Mesos' `--credential` (agent): the one principal this daemon presents."""
    text, where = _source_text(value, what)
    try:
        if text.lstrip().startswith("{"):
            return _pair(Reader(loads(text)))
        pairs = _text_pairs(text, where)
    except DecodeError as e:
        raise CredentialsError(f"{where}: {e}") from None
    if len(pairs) != 1:
        raise CredentialsError(f"{where}: expected exactly one 'principal secret' pair")
    return pairs[0]


def read_secret(path: str, *, what: str) -> str:
    """A secret file (Marathon's `--mesos_authentication_secret_file`): its text without the final newline."""
    file = Path(path.removeprefix("file://"))
    try:
        secret = file.read_text().rstrip("\r\n")
    except OSError as e:
        raise CredentialsError(f"cannot read the {what} {file}: {e.strerror or e}") from None
    if not secret:
        raise CredentialsError(f"the {what} {file} is empty")
    return secret


def parse_http_credentials(value: str, *, what: str = "--http_credentials") -> Credentials:
    """Marathon's and Chronos' `--http_credentials`: `user:password`, or several separated by commas."""
    secrets: dict[str, str] = {}
    for item in value.split(","):
        user, colon, password = item.strip().partition(":")
        if not colon or not user:
            raise CredentialsError(f"{what} must be 'user:password' (several separated by commas)")
        secrets[user] = password
    return Credentials(secrets)


def as_credential(value: str, *, what: str = "--http_credentials") -> Credential:
    """`user:password` as the credential a client presents (the CLI's, marathon-lb's `--auth-credentials`)."""
    secrets = parse_http_credentials(value, what=what).secrets
    if len(secrets) != 1:
        raise CredentialsError(f"{what} must be one 'user:password'")
    [(principal, secret)] = secrets.items()
    return Credential(principal, secret)
