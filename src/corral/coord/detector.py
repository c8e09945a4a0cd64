"""A MasterDetector on top of any LeaderElection: the leader's info, decoded as MasterInfo JSON.

Masters campaign with `encode_master_info(info)`, which is the document Mesos writes into its
`json.info_NNNNNNNNNN` znodes (`mesos.md` d.1), so Mesos tooling and pymesos read Corral's leader and Corral
reads theirs. A leader whose data is not MasterInfo JSON is reported as no leader (and logged), as pymesos
ignores data without an `address`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator

from corral.coord.ports import LeaderElection
from corral.core.errors import DecodeError
from corral.protocol.json import Reader, dumps, loads_object
from corral.protocol.mesos import MasterInfo

log = logging.getLogger(__name__)


def encode_master_info(info: MasterInfo) -> bytes:
    return dumps(info.to_json())


def decode_master_info(data: bytes) -> MasterInfo | None:
    """The MasterInfo in a leader's data, or None when it is not MasterInfo JSON with an `address`."""
    try:
        reader = Reader(loads_object(data))
        if not reader.has("address"):
            raise DecodeError("address", "is missing")
        return MasterInfo.from_json(reader)
    except DecodeError as e:
        log.warning("leader data is not MasterInfo JSON (%s): %.80r", e, data)
        return None


class ElectionDetector:
    """Follows an election's leader (`MasterDetector`)."""

    def __init__(self, election: LeaderElection) -> None:
        self._election = election

    async def watch(self) -> AsyncGenerator[MasterInfo | None, None]:
        last: MasterInfo | object | None = _UNSET
        async with contextlib.aclosing(self._election.watch_leader()) as leaders:
            async for data in leaders:
                current = None if data is None else decode_master_info(data)
                if current != last:
                    last = current
                    yield current


_UNSET = object()
