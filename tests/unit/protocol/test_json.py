"""The JSON codec's input rules, which are stout's protobuf-JSON rules (mesos.md a.4): numeric strings for
numbers, "true"/"false" for booleans, null as unset, unknown keys ignored, bytes as padded standard base64;
and error paths that name the offending field (they end up in the 400 body).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.errors import DecodeError
from corral.core.task_state import TaskState
from corral.protocol.json import (
    JsonObject,
    JsonValue,
    Reader,
    b64decode,
    b64encode,
    dumps,
    ident,
    loads,
    loads_object,
)


def test_numbers_may_be_sent_as_strings() -> None:
    r = Reader({"a": 5, "b": "5.5", "c": "Infinity", "d": "-Infinity", "e": "12", "f": 2.0})
    assert r.number("a") == 5.0
    assert r.number("b") == 5.5
    assert r.number("c") == math.inf  # e.g. `"limits":{"cpus":"Infinity"}`
    assert r.number("d") == -math.inf
    assert r.integer("e") == 12
    assert r.integer("f") == 2


def test_int64_values_keep_every_digit() -> None:
    # TimeInfo.nanoseconds and friends are int64 written as JSON numbers (or numeric strings): no float detour
    r = Reader({"n": 1700000000000000001, "s": "1700000000000000001", "neg": "-3"})
    assert r.integer("n") == 1700000000000000001
    assert r.integer("s") == 1700000000000000001
    assert r.integer("neg") == -3


@pytest.mark.parametrize("value", ["Infinity", "NaN", 1.5, "1.5", "x", True, [1], {"a": 1}])
def test_integers_reject_what_is_not_a_whole_number(value: JsonValue) -> None:
    with pytest.raises(DecodeError) as e:
        Reader({"begin": value}).integer("begin")
    assert e.value.path == "begin"


def test_booleans_may_be_sent_as_strings() -> None:
    r = Reader({"a": True, "b": "false", "c": "true", "d": False})
    assert [r.flag(k, default=False) for k in "abcd"] == [True, False, True, False]
    assert r.flag("missing", default=True) is True
    with pytest.raises(DecodeError, match=r"^x: expected a boolean, got a number$"):
        Reader({"x": 1}).flag("x", default=False)
    with pytest.raises(DecodeError, match=r"^x: expected a boolean, got a string$"):
        Reader({"x": "yes"}).flag("x", default=False)


def test_null_means_unset() -> None:
    r = Reader({"name": None, "n": None, "flag": None, "child": None, "list": None, "id": None})
    assert not r.has("name")
    assert r.opt_text("name") is None
    assert r.opt_number("n") is None
    assert r.number("n", default=5.0) == 5.0
    assert r.flag("flag", default=True) is True
    assert r.opt_child("child") is None
    assert r.array("list") == []
    assert r.opt_value("id") is None
    with pytest.raises(DecodeError, match=r"^name: is required$"):
        r.text("name")


def test_unknown_keys_are_ignored() -> None:
    r = Reader({"value": "x", "some_future_field": {"a": 1}})
    assert r.text("value") == "x"


def test_wrong_types_name_what_was_found() -> None:
    r = Reader({"s": 1, "n": "five", "b": True, "o": [], "a": {}, "items": ["a", 2]})
    with pytest.raises(DecodeError, match=r"^s: expected a string, got a number$"):
        r.text("s")
    with pytest.raises(DecodeError, match=r"^n: expected a number, got a string$"):
        r.number("n")
    with pytest.raises(DecodeError, match=r"^b: expected a number, got a boolean$"):
        r.number("b")
    with pytest.raises(DecodeError, match=r"^o: expected an object, got an array$"):
        r.child("o")
    with pytest.raises(DecodeError, match=r"^a: expected an array, got an object$"):
        r.array("a")
    with pytest.raises(DecodeError, match=r"^items\[1\]: expected a string, got a number$"):
        r.strs("items")
    with pytest.raises(DecodeError, match=r"^expected an object, got null$"):
        Reader(None)


def test_error_paths_name_the_nested_field() -> None:
    call: JsonObject = {
        "accept": {
            "operations": [
                {"type": "LAUNCH", "launch": {"task_infos": [{"name": "t", "task_id": {"value": 7}}]}}
            ]
        }
    }
    op = Reader(call).child("accept").objs("operations")[0]
    task = op.child("launch").objs("task_infos")[0]
    with pytest.raises(DecodeError) as e:
        task.value("task_id")
    assert e.value.path == "accept.operations[0].launch.task_infos[0].task_id.value"
    assert (
        str(e.value)
        == "accept.operations[0].launch.task_infos[0].task_id.value: expected a string, got a number"
    )
    with pytest.raises(DecodeError) as e:
        task.value("agent_id")
    assert e.value.path == "accept.operations[0].launch.task_infos[0].agent_id"


def test_array_items_must_be_objects_where_objects_are_expected() -> None:
    with pytest.raises(DecodeError) as e:
        Reader({"offer_ids": [{"value": "a"}, "b"]}).objs("offer_ids")
    assert e.value.path == "offer_ids[1]"


def test_ids_are_value_wrappers() -> None:
    assert ident("M-0000") == {"value": "M-0000"}
    r = Reader({"framework_id": ident("M-0000")})
    assert r.value("framework_id") == "M-0000"
    assert r.opt_value("agent_id") is None


def test_enums_are_names() -> None:
    r = Reader({"state": "TASK_RUNNING", "bad": "TASK_SLEEPING"})
    assert r.enum("state", TaskState) is TaskState.TASK_RUNNING
    assert r.enum("missing", TaskState, required=False) is None
    with pytest.raises(DecodeError, match=r"^missing: is required$"):
        r.enum("missing", TaskState)
    with pytest.raises(DecodeError, match=r"^bad: unknown value 'TASK_SLEEPING'$"):
        r.enum("bad", TaskState)


def test_an_unknown_name_in_an_optional_enum_is_dropped() -> None:
    # mesos.md a.4: proto2 semantics, an unknown name in an *optional* enum field is silently dropped
    assert Reader({"latest_state": "TASK_SLEEPING"}).enum("latest_state", TaskState, required=False) is None


def test_bytes_are_padded_standard_base64() -> None:
    # mesos.md a.4: a status uuid is 16 raw bytes, 24 base64 characters
    uuid = b64decode("dVqSCqKUTQ+DJ5NxekL7ZQ==")
    assert len(uuid) == 16
    assert b64encode(uuid) == "dVqSCqKUTQ+DJ5NxekL7ZQ=="
    assert Reader({"data": "aGVsbG8="}).blob("data") == b"hello"
    assert Reader({}).blob("data") is None
    for bad in ["aGVsbG8", "not base64!", "dVqSCqKUTQ-DJ5NxekL7ZQ=="]:  # unpadded, junk, URL-safe alphabet
        with pytest.raises(DecodeError) as e:
            Reader({"uuid": bad}).blob("uuid")
        assert (e.value.path, e.value.problem) == ("uuid", "is not valid base64")


@given(st.binary())
def test_base64_round_trips(data: bytes) -> None:
    assert b64decode(b64encode(data)) == data


def test_loads_maps_malformed_json_to_decode_error() -> None:
    assert loads(b'{"a":[1,2.5,null,true]}') == {"a": [1, 2.5, None, True]}
    with pytest.raises(DecodeError, match="malformed JSON"):
        loads(b'{"a":')
    with pytest.raises(DecodeError, match="malformed JSON"):
        loads(b"\xff")
    with pytest.raises(DecodeError, match=r"^expected a JSON object, got an array$"):
        loads_object(b"[]")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=8,
)


@given(json_values)
def test_dumps_and_loads_round_trip(value: JsonValue) -> None:
    assert loads(dumps(value)) == value
