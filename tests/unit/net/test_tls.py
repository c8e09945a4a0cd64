"""`load_tls`: PEM files in, an immutable TlsConfig out, or a TlsError naming the file
(reliability-security.md 4.1: TLS 1.2 or later, no legacy ciphers; client certificates verified against the
CA when required)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from corral.net.tls import PLAIN, TlsError, load_tls
from corral.testing.certs import Pki, pki_fixture

pki = pki_fixture()
other = pki_fixture("other")


def test_nothing_given_is_plain_http() -> None:
    assert load_tls() is PLAIN
    assert PLAIN.scheme == "http"
    assert PLAIN.server is None
    assert PLAIN.url("10.0.0.1:5050", "/master/state") == "http://10.0.0.1:5050/master/state"


def test_a_certificate_serves_https_and_clients_verify_against_the_ca(pki: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    assert tls.scheme == "https"
    assert tls.url("127.0.0.1:5051") == "https://127.0.0.1:5051"
    assert tls.server is not None
    assert tls.server.verify_mode == ssl.CERT_NONE  # client certificates are not asked for by default
    assert isinstance(tls.verify, ssl.SSLContext)
    assert tls.verify.verify_mode == ssl.CERT_REQUIRED
    assert tls.verify.check_hostname
    assert [c["subject"] for c in tls.verify.get_ca_certs()] == [((("commonName", "corral-test CA"),),)]


def test_only_tls_1_2_and_later_with_forward_secret_aead_ciphers(pki: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    assert isinstance(tls.verify, ssl.SSLContext) and tls.server is not None
    for context in (tls.server, tls.verify):
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
        tls12 = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"]
        assert tls12
        assert all(name.startswith("ECDHE-") for name in tls12), tls12
        assert all("GCM" in name or "CHACHA20" in name for name in tls12), tls12


def test_requiring_client_certificates_checks_them_against_the_ca(pki: Pki) -> None:
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca, require_client_cert=True)
    assert tls.server is not None
    assert tls.server.verify_mode == ssl.CERT_REQUIRED
    assert len(tls.server.get_ca_certs()) == 1


def test_a_ca_alone_configures_clients_only(pki: Pki) -> None:
    tls = load_tls(ca=pki.ca)
    assert tls.server is None
    assert tls.scheme == "https"
    assert isinstance(tls.verify, ssl.SSLContext)


def test_a_certificate_needs_its_key(pki: Pki) -> None:
    with pytest.raises(TlsError, match="give both or neither"):
        load_tls(cert=pki.cert)
    with pytest.raises(TlsError, match="give both or neither"):
        load_tls(key=pki.key, ca=pki.ca)


def test_requiring_client_certificates_needs_a_ca(pki: Pki) -> None:
    with pytest.raises(TlsError, match="a CA to check them"):
        load_tls(cert=pki.cert, key=pki.key, require_client_cert=True)


def test_a_key_of_another_certificate_is_refused(pki: Pki, other: Pki) -> None:
    with pytest.raises(TlsError, match=f"cannot use the certificate {pki.cert} with the key {other.key}"):
        load_tls(cert=pki.cert, key=other.key)


def test_files_that_are_not_pem_are_refused(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(TlsError, match=f"cannot use the CA file {junk}"):
        load_tls(cert=pki.cert, key=pki.key, ca=junk)
    with pytest.raises(TlsError, match=f"cannot use the certificate {junk}"):
        load_tls(cert=junk, key=pki.key)
    with pytest.raises(TlsError, match=f"cannot use the CA file {tmp_path / 'missing.pem'}"):
        load_tls(ca=tmp_path / "missing.pem")
