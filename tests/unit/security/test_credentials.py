from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.security.credentials import (
    Credential,
    Credentials,
    CredentialsError,
    as_credential,
    parse_credential,
    parse_credentials,
    parse_http_credentials,
    read_secret,
)


def test_the_mesos_json_file_names_every_principal(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(
        '{"credentials": [{"principal": "marathon", "secret": "m1"}, {"principal": "ops", "secret": "o"}]}'
    )
    for value in (str(path), f"file://{path}", path.read_text()):
        credentials = parse_credentials(value)
        assert credentials.verify("marathon", "m1")
        assert credentials.verify("ops", "o")
        assert not credentials.verify("marathon", "o")


def test_the_text_format_has_a_pair_a_line_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("# operators\nops s3cret\n\nagent a\n")
    assert parse_credentials(str(path)).secrets == {"ops": "s3cret", "agent": "a"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ops\n", "line 1: expected 'principal secret'"),
        ('{"credentials": [{"principal": "ops"}]}', "credentials[0].secret"),
        ('{"credentials": []}', "names no principal"),
        ('{"credentials": [{"principal": "", "secret": "x"}]}', "principal: must not be empty"),
    ],
)
def test_a_bad_credentials_file_is_one_clear_error_without_its_secrets(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "credentials"
    path.write_text(text)
    with pytest.raises(CredentialsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_credentials(str(path))


def test_a_missing_file_says_which() -> None:
    with pytest.raises(CredentialsError, match="cannot read the --credentials file /nonexistent"):
        parse_credentials("/nonexistent")


def test_an_agent_credential_is_exactly_one_pair(tmp_path: Path) -> None:
    assert parse_credential('{"principal": "agent", "secret": "s"}') == Credential("agent", "s")
    path = tmp_path / "credential"
    path.write_text("agent s\nother t\n")
    with pytest.raises(CredentialsError, match="exactly one"):
        parse_credential(str(path))


def test_marathon_http_credentials_take_user_colon_password_and_lists() -> None:
    assert parse_http_credentials("admin:p:w").secrets == {"admin": "p:w"}  # the user holds no colon
    assert parse_http_credentials("a:1, b:2").secrets == {"a": "1", "b": "2"}
    assert as_credential("admin:pw") == Credential("admin", "pw")
    for bad in ("admin", ":pw", "a:1,"):
        with pytest.raises(CredentialsError, match="user:password"):
            parse_http_credentials(bad)


def test_secret_files_lose_their_final_newline_and_must_not_be_empty(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("s3cret\n")
    assert read_secret(str(path), what="secret file") == "s3cret"
    path.write_text("\n")
    with pytest.raises(CredentialsError, match="is empty"):
        read_secret(str(path), what="secret file")


def test_reprs_never_show_secrets() -> None:
    assert "s3cret" not in repr(Credential("p", "s3cret"))
    assert "s3cret" not in repr(Credentials({"p": "s3cret"}))


@given(st.dictionaries(st.text(min_size=1), st.text(), max_size=5), st.text(), st.text())
def test_verify_accepts_exactly_the_known_pairs(secrets: dict[str, str], principal: str, secret: str) -> None:
    credentials = Credentials(secrets)
    assert credentials.verify(principal, secret) == (secrets.get(principal) == secret)
    for known, known_secret in secrets.items():
        assert credentials.verify(known, known_secret)
