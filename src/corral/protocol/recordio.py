"""RecordIO framing (`<decimal length>\\n<record>`), sans I/O: encode records, feed bytes, get records."""

from __future__ import annotations

from corral.core.errors import DecodeError

MAX_RECORD_BYTES = 256 * 1024 * 1024


def encode(record: bytes) -> bytes:
    return b"%d\n%s" % (len(record), record)


class Decoder:
    """Accumulates bytes as they arrive (chunk boundaries are arbitrary) and yields whole records."""

    __slots__ = ("_buffer", "_need")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        records: list[bytes] = []
        while True:
            if self._need is None:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    if len(self._buffer) > 20:
                        raise DecodeError("", "RecordIO length prefix too long")
                    return records
                header = bytes(self._buffer[:newline]).strip()
                if not header.isdigit():
                    raise DecodeError("", f"bad RecordIO length {header[:20]!r}")
                self._need = int(header)
                if self._need > MAX_RECORD_BYTES:
                    raise DecodeError("", f"RecordIO record of {self._need} bytes is too large")
                del self._buffer[: newline + 1]
            if len(self._buffer) < self._need:
                return records
            records.append(bytes(self._buffer[: self._need]))
            del self._buffer[: self._need]
            self._need = None
