"""Where `corral login` keeps tokens, and which credentials a client command presents (no sockets here)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import click
import httpx
import pytest

from corral.cli.client_auth import BearerAuth, client_login
from corral.cli.tokens_store import StoredToken, TokenStore, TokenStoreError, tokens_path

URL = "http://127.0.0.1:5050"
TOKEN = StoredToken("ops", "eyJ.token.sig", expires=2000.0)


def test_the_file_is_under_xdg_config_home_when_that_is_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/u")
    assert tokens_path({"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/corral/tokens.json")
    assert tokens_path({}) == Path("/home/u/.config/corral/tokens.json")
    assert tokens_path({"XDG_CONFIG_HOME": "relative"}) == Path("/home/u/.config/corral/tokens.json")


def test_tokens_are_kept_per_url_until_they_expire(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "corral" / "tokens.json")
    assert store.get(URL, now=0.0) is None
    store.put(URL, TOKEN)
    store.put("http://127.0.0.1:8080", StoredToken("ops", "other", expires=3000.0))
    assert store.get(URL, now=1999.0) == TOKEN
    assert store.get(URL, now=2000.0) is None
    assert store.remove(URL) and not store.remove(URL)
    assert store.get("http://127.0.0.1:8080", now=0.0) is not None
    assert store.clear() == ["http://127.0.0.1:8080"]
    assert store.clear() == []


def test_the_file_is_private_even_if_it_was_not(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o644)
    TokenStore(path).put(URL, TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]  # no temporary file left behind


@pytest.mark.parametrize("text", ["{not json", "[]", '{"http://x": {"principal": "ops"}}'])
def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(text)
    with pytest.raises(TokenStoreError, match=r"tokens\.json is damaged"):
        TokenStore(path).get(URL, now=0.0)


def test_an_unusable_place_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "corral").write_text("a file where the directory should be")
    store = TokenStore(tmp_path / "corral" / "tokens.json")
    with pytest.raises(TokenStoreError, match=r"cannot read .*tokens\.json: Not a directory"):
        store.put(URL, TOKEN)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / f".tokens.json.{os.getpid()}").mkdir()  # where the new file is written first
    with pytest.raises(TokenStoreError, match=r"cannot write .*tokens\.json"):
        TokenStore(tmp_path / "elsewhere" / "tokens.json").put(URL, TOKEN)


def test_no_token_shows_in_a_repr() -> None:
    assert "eyJ" not in repr(TOKEN) and "eyJ" not in repr(BearerAuth(TOKEN.token))


def _header(auth: httpx.Auth | None) -> str | None:
    request = httpx.Request("GET", URL)
    if auth is not None:
        request = next(auth.sync_auth_flow(request))
    value = request.headers.get("authorization")
    return None if value is None else str(value)


def test_a_stored_token_is_presented_as_bearer(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    TokenStore(tokens_path(env)).put(URL, TOKEN)
    login = client_login("master", "127.0.0.1:5050", URL, env=env, now=1000.0)
    assert _header(login.auth) == "Bearer eyJ.token.sig"
    assert login.unauthorized_hint == "run `corral login --master 127.0.0.1:5050`"
    expired = client_login("master", "127.0.0.1:5050", URL, env=env, now=2500.0)
    assert _header(expired.auth) is None


def test_the_environment_wins_over_a_stored_token(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("pw\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CORRAL_PRINCIPAL": "bot", "CORRAL_SECRET_FILE": str(secret)}
    TokenStore(tokens_path(env)).put(URL, TOKEN)
    login = client_login("marathon", "127.0.0.1:5050", URL, env=env, now=1000.0)
    assert _header(login.auth) == httpx.BasicAuth("bot", "pw")._auth_header
    assert "CORRAL_SECRET_FILE" in login.unauthorized_hint


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"CORRAL_PRINCIPAL": "bot"}, "go together"),
        ({"CORRAL_SECRET_FILE": "/nonexistent/secret"}, "go together"),
        ({"CORRAL_PRINCIPAL": "bot", "CORRAL_SECRET_FILE": "/nonexistent/secret"}, "cannot read"),
    ],
)
def test_half_an_environment_login_is_a_usage_error(env: dict[str, str], problem: str) -> None:
    with pytest.raises(click.UsageError, match=problem):
        client_login("master", "m:5050", URL, env=env, now=0.0)
