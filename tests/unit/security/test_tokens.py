from __future__ import annotations

import jwt
import pytest

from corral.security.credentials import Credentials
from corral.security.tokens import LOGIN_TTL, TokenSigner

KEY = b"k" * 32


def test_a_token_names_its_principal_and_claims_until_it_expires() -> None:
    signer = TokenSigner(KEY)
    token = signer.issue("ops", now=1000.0, claims={"fid": "F1"})
    verified = signer.verify(token, now=1000.0 + LOGIN_TTL - 1)
    assert verified is not None
    assert (verified.principal, verified.claims["fid"]) == ("ops", "F1")
    assert signer.verify(token, now=1000.0 + LOGIN_TTL) is None


def test_tokens_without_expiry_last() -> None:
    signer = TokenSigner(KEY)
    assert signer.verify(signer.issue("executor", now=0.0, ttl=0), now=1e12) is not None


def test_a_token_of_another_key_or_algorithm_or_garbage_is_refused() -> None:
    signer = TokenSigner(KEY)
    assert signer.verify(TokenSigner(b"x" * 32).issue("ops", now=0.0), now=0.0) is None
    unsigned = jwt.encode({"sub": "ops"}, "", algorithm="none")
    assert signer.verify(unsigned, now=0.0) is None
    assert signer.verify("not.a.token", now=0.0) is None
    assert signer.verify(jwt.encode({"sub": ""}, KEY, algorithm="HS256"), now=0.0) is None


def test_instances_given_the_same_credentials_accept_each_others_tokens_until_they_change() -> None:
    one = TokenSigner.from_credentials(Credentials({"ops": "a", "fw": "b"}))
    two = TokenSigner.from_credentials(Credentials({"fw": "b", "ops": "a"}))
    changed = TokenSigner.from_credentials(Credentials({"ops": "new", "fw": "b"}))
    token = one.issue("ops", now=0.0)
    assert two.verify(token, now=1.0) is not None
    assert changed.verify(token, now=1.0) is None


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSigner(b"short")
