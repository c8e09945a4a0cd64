"""The CLI client's TLS settings: `$CORRAL_SSL_CA` (the CLI's `--ssl_ca`), `$CORRAL_SSL_CERT` and
`$CORRAL_SSL_KEY`; `https://` addresses; bare addresses are https once a CA or certificate is set."""

from __future__ import annotations

import ssl

import pytest

from corral.net.client import ENV_CA, ENV_CERT, ENV_KEY, Client, ClientError, base_url, cli_tls
from corral.net.tls import PLAIN
from corral.testing.certs import Pki, pki_fixture

pki = pki_fixture()


@pytest.fixture(autouse=True)
def no_tls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_CA, ENV_CERT, ENV_KEY):
        monkeypatch.delenv(name, raising=False)


def test_addresses_keep_their_scheme_and_bare_ones_get_the_given_one() -> None:
    assert base_url("https://m:5050/") == "https://m:5050"
    assert base_url("http://m:5050", scheme="https") == "http://m:5050"
    assert base_url("m:5050", scheme="https") == "https://m:5050"
    assert base_url("m", default_port=8080, scheme="https") == "https://m:8080"
    assert base_url("m:5050") == "http://m:5050"


def test_a_ca_in_the_environment_makes_bare_addresses_https(
    monkeypatch: pytest.MonkeyPatch, pki: Pki
) -> None:
    monkeypatch.setenv(ENV_CA, str(pki.ca))
    assert base_url("m:5050") == "https://m:5050"
    assert base_url("http://m:5050") == "http://m:5050"


def test_the_environment_gives_the_cli_its_tls(pki: Pki) -> None:
    assert cli_tls({}) is PLAIN
    tls = cli_tls({ENV_CA: str(pki.ca), ENV_CERT: str(pki.cert), ENV_KEY: str(pki.key)})
    assert tls.scheme == "https"
    assert isinstance(tls.verify, ssl.SSLContext)
    assert tls.verify.get_ca_certs()


def test_a_bad_tls_environment_is_a_client_error(pki: Pki) -> None:
    with pytest.raises(ClientError, match=r"\$CORRAL_SSL_CA.*give both or neither"):
        cli_tls({ENV_CERT: str(pki.cert)})
    with pytest.raises(ClientError, match=r"cannot use the CA file /nonexistent\.pem"):
        cli_tls({ENV_CA: "/nonexistent.pem"})


def test_a_client_takes_the_scheme_of_its_tls(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    with Client("m:5050") as client:
        assert client.base_url == "http://m:5050"
    monkeypatch.setenv(ENV_CA, str(pki.ca))
    with Client("m:5050") as client:
        assert client.base_url == "https://m:5050"
    with Client("m:5050", tls=PLAIN) as client:
        assert client.base_url == "http://m:5050"
