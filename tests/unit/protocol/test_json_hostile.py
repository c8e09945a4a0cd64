"""The codec against hostile bodies (reliability-security.md 4.3 #7, #8, #10; CVE-2018-11793): each is a
DecodeError, never another exception; what it accepts it can encode again, however deep."""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.protocol.json import MAX_DEPTH, dumps, loads
from corral.testing.hostile import MALFORMED_JSON


@pytest.mark.parametrize("body", MALFORMED_JSON.values(), ids=list(MALFORMED_JSON))
def test_malformed_json_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        loads(body)


@pytest.mark.parametrize("as_text", [False, True])
def test_nesting_is_accepted_exactly_as_deep_as_it_can_be_written_back(as_text: bool) -> None:
    def nested(depth: int) -> bytes | str:
        body = b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)
        return body.decode() if as_text else body

    deepest = loads(nested(MAX_DEPTH))
    assert loads(dumps(deepest)) == deepest
    with pytest.raises(DecodeError, match=f"nested more than {MAX_DEPTH} levels deep"):
        loads(nested(MAX_DEPTH + 1))


def test_brackets_inside_strings_are_only_text() -> None:
    body = dumps({"cmd": "[" * 1000 + "{" * 1000})
    assert loads(body) == {"cmd": "[" * 1000 + "{" * 1000}


def test_a_wide_document_is_not_a_deep_one() -> None:
    wide = dumps([[{"a": [i]}] for i in range(10_000)])
    assert len(loads(wide)) == 10_000  # type: ignore[arg-type]
