"""Where `corral login` keeps the tokens daemons issue: `$XDG_CONFIG_HOME/corral/tokens.json` (by default
`~/.config/corral/tokens.json`), one entry per daemon URL:

    {"http://127.0.0.1:5050": {"principal": "ops", "token": "eyJ...", "expires": 1764057600.0}}

The file holds bearer tokens, which act as their principal until they expire: it is the user's alone (mode
0600 in a 0700 directory) and is replaced whole (a temporary file renamed over it), so a crash never leaves
half of it, nor a moment when it is readable by others. A password is never written anywhere.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from corral.core.errors import CorralError, DecodeError
from corral.protocol.json import JsonObject, Reader, dumps, loads


class TokenStoreError(CorralError):
    """The tokens file cannot be read or written; the message names it (never a token)."""


@dataclass(frozen=True, slots=True)
class StoredToken:
    principal: str
    token: str
    expires: float  # epoch seconds

    def __repr__(self) -> str:  # keeps the token out of logs and tracebacks
        return f"StoredToken(principal={self.principal!r}, token='***', expires={self.expires})"


def tokens_path(env: Mapping[str, str] = os.environ) -> Path:
    """The tokens file, under `$XDG_CONFIG_HOME` when it is set to an absolute path (as the XDG base
    directory specification says), else under `~/.config`."""
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "corral" / "tokens.json"


def _entry(r: Reader) -> StoredToken:
    return StoredToken(r.text("principal"), r.text("token"), r.number("expires"))


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, StoredToken]:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise TokenStoreError(f"cannot read {self.path}: {e.strerror or e}") from None
        try:
            document = loads(text)
            if not isinstance(document, dict):
                raise DecodeError("", "must be an object of daemon URLs")
            return {url: _entry(Reader(value, url)) for url, value in document.items()}
        except DecodeError as e:
            raise TokenStoreError(f"{self.path} is damaged ({e}): delete it and log in again") from None

    def _write(self, tokens: dict[str, StoredToken]) -> None:
        document: JsonObject = {
            url: {"principal": t.principal, "token": t.token, "expires": t.expires}
            for url, t in sorted(tokens.items())
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(dumps(document) + b"\n")
            os.replace(temporary, self.path)
        except OSError as e:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise TokenStoreError(f"cannot write {self.path}: {e.strerror or e}") from None

    def get(self, url: str, *, now: float) -> StoredToken | None:
        """The token stored for `url`, unless it has expired."""
        token = self._read().get(url)
        return token if token is not None and token.expires > now else None

    def put(self, url: str, token: StoredToken) -> None:
        self._write({**self._read(), url: token})

    def remove(self, url: str) -> bool:
        """Forget the token for `url`; whether there was one."""
        tokens = self._read()
        if tokens.pop(url, None) is None:
            return False
        self._write(tokens)
        return True

    def clear(self) -> list[str]:
        """Forget every token; the URLs they were for."""
        urls = sorted(self._read())
        self.path.unlink(missing_ok=True)
        return urls
