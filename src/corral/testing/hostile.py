"""The hostile inputs of reliability-security.md 4.3 (#6 ids, #7 nesting, #8 malformed JSON, #10 numbers), in
one place so that unit, scenario and security tests draw from the same lists."""

from __future__ import annotations

# 4.3 #6: ids that must never become a directory name (empty, `.`/`..`, separators, control characters,
# over 255 bytes: 200 two-byte characters are 400 bytes).
HOSTILE_IDS: dict[str, str] = {
    "empty": "",
    "dot": ".",
    "dot-dot": "..",
    "slash": "a/b",
    "backslash": "a\\b",
    "nul": "x\x00y",
    "escape sequence": "\x1b[31m",
    "newline": "ok\nforged log line",
    "400 bytes": "é" * 200,
    "256 bytes": "a" * 256,
}

# 4.3 #7, #8 and #10: bodies no JSON decoder may accept, or that bring a naive one down.
DEEP_ARRAY = b"[" * 500_000 + b"]" * 500_000
# Deep enough that orjson reads it but cannot write it back (protocol/json.py MAX_DEPTH)
UNWRITABLE = b"[" * 255 + b"]" * 255
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
MALFORMED_JSON: dict[str, bytes] = {
    "500000 nested arrays": DEEP_ARRAY,
    "100000 nested objects": DEEP_OBJECT,
    "255 nested arrays": UNWRITABLE,
    "NaN": b'{"a":NaN}',
    "Infinity": b'{"a":Infinity}',
    "-Infinity": b'{"a":-Infinity}',
    "5000-digit integer": b'{"a":' + b"7" * 5000 + b"}",
    "1e400": b'{"a":1e400}',
    "invalid UTF-8": b'{"a":"\xff\xfe"}',
    "lone surrogate": b'{"a":"\\ud800"}',
    "truncated": b'{"a":{"b":[1,2',
    "empty body": b"",
    "trailing garbage": b'{"a":1} x',
}

# The same poison inside an otherwise well-formed request body: `@` is where it goes.
POISON_VALUES: dict[str, bytes] = {
    "500000 nested arrays": DEEP_ARRAY,
    "100000 nested objects": DEEP_OBJECT,
    "255 nested arrays": UNWRITABLE,
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "5000-digit integer": b"7" * 5000,
    "1e400": b"1e400",
}


def embed(template: bytes, value: bytes) -> bytes:
    return template.replace(b"@", value, 1)
