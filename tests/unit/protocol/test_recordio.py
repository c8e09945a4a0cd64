"""RecordIO framing (mesos.md a.2, upstream `docs/recordio.md`): `record-size LF record-data`, with the
size in decimal bytes. The stream arrives inside HTTP chunked encoding whose chunk boundaries are arbitrary,
so the decoder must give back the same records however the bytes are split.
"""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.errors import DecodeError
from corral.protocol import recordio
from corral.protocol.recordio import MAX_RECORD_BYTES, Decoder

SUBSCRIBED = (
    b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"12220-3440-12532-2345"},'
    b'"heartbeat_interval_seconds":15.0}}'
)
HEARTBEAT = b'{"type":"HEARTBEAT"}'


def test_the_mesos_example_stream() -> None:
    # mesos.md a.2 shows `128\n{"type":"SUBSCRIBED",...}20\n{"type":"HEARTBEAT"}`
    stream = recordio.encode(SUBSCRIBED) + recordio.encode(HEARTBEAT)
    assert stream == b"%d\n" % len(SUBSCRIBED) + SUBSCRIBED + b"20\n" + HEARTBEAT
    assert Decoder().feed(stream) == [SUBSCRIBED, HEARTBEAT]


def test_the_length_counts_bytes_not_characters() -> None:
    record = '{"message":"café"}'.encode()
    assert recordio.encode(record).startswith(b"19\n")
    assert Decoder().feed(recordio.encode(record)) == [record]


def test_records_arrive_byte_by_byte() -> None:
    decoder = Decoder()
    stream = recordio.encode(HEARTBEAT) * 2
    got = [r for i in range(len(stream)) for r in decoder.feed(stream[i : i + 1])]
    assert got == [HEARTBEAT, HEARTBEAT]


def test_a_partial_record_waits_for_the_rest() -> None:
    decoder = Decoder()
    assert decoder.feed(b"20\n" + HEARTBEAT[:10]) == []
    assert decoder.feed(HEARTBEAT[10:] + b"2") == [HEARTBEAT]
    assert decoder.feed(b"\n{}") == [b"{}"]


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        (b"abc\n{}", "bad RecordIO length b'abc'"),
        (b"-5\n{}", "bad RecordIO length b'-5'"),
        (b"\n{}", "bad RecordIO length b''"),
        (b"1.5\n{}", "bad RecordIO length b'1.5'"),
        (b"0x10\n", "bad RecordIO length b'0x10'"),
        (b"1" * 21, "RecordIO length prefix too long"),
        (b'{"type":"HEARTBEAT"}\n', "bad RecordIO length"),  # a client that forgot the framing
        (b"%d\n" % (MAX_RECORD_BYTES + 1), f"RecordIO record of {MAX_RECORD_BYTES + 1} bytes is too large"),
    ],
)
def test_bad_length_prefixes_are_decode_errors(stream: bytes, problem: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(problem)):
        Decoder().feed(stream)


def test_a_bad_prefix_after_good_records_still_raises() -> None:
    decoder = Decoder()
    assert decoder.feed(recordio.encode(HEARTBEAT)) == [HEARTBEAT]
    with pytest.raises(DecodeError):
        decoder.feed(b"x\n")


records = st.lists(st.binary(max_size=300), max_size=8)


@given(records, st.lists(st.integers(0, 3000), max_size=10))
def test_records_survive_any_split_of_the_stream(sent: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(recordio.encode(r) for r in sent)
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    decoder = Decoder()
    received = [r for a, b in pairwise(bounds) for r in decoder.feed(stream[a:b])]
    assert received == sent


@given(st.binary(max_size=100))
def test_records_may_contain_newlines_and_digits(record: bytes) -> None:
    record = b"12\n" + record + b"\n3\n"
    assert Decoder().feed(recordio.encode(record)) == [record]
