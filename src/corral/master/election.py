"""A master in a ZooKeeper ensemble: campaign, follow the leader, lead, and stop on losing the lease.

The candidacy is Mesos' own (`json.info_NNNNNNNNNN` holding MasterInfo JSON, `coord/zookeeper.py`), so
pymesos and Mesos tools find Corral's leader. While another master leads, `runtime.leader` names it and the
HTTP edge answers leader-only endpoints with a 307 there. A leader that loses its session (expired, or
suspended past recovery) stops at once by ending the process, as a Mesos master does: the state it holds is
soft (rebuilt from re-registering agents and re-subscribing frameworks), and an init system restarts it as a
fresh candidate. That is simpler and safer than unwinding a leader into a follower in place.

The registry (`registry.py`) lives in the same session under `<path>/corral/registry`: read once on election,
written whenever the set of admitted or unreachable agents changes, each write fenced by the lease so a
deposed leader cannot overwrite its successor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from corral.coord.detector import encode_master_info
from corral.coord.ports import Lease, Store
from corral.coord.zk_url import ZkUrl
from corral.coord.zookeeper import ZooKeeper
from corral.core.errors import DaemonStopped, DecodeError
from corral.master.registry import decode_registry, registry_document
from corral.master.runtime import MasterRuntime
from corral.protocol.json import dumps, loads_object

log = logging.getLogger(__name__)

REGISTRY_KEY = "registry"


class LeadershipLost(DaemonStopped):
    """The leading master's ZooKeeper lease ended: the process exits so that it cannot act as a leader."""


async def run_elected(runtime: MasterRuntime, url: ZkUrl, *, session_timeout: float) -> None:
    async with ZooKeeper(url, session_timeout=session_timeout) as zk:
        detector = zk.detector(url.path)

        async def follow() -> None:
            async with contextlib.aclosing(detector.watch()) as leaders:
                async for info in leaders:
                    # Our own candidacy shows up a moment before `campaign` returns: not a leader to send to.
                    if not runtime.leading and (info is None or info.id != runtime.master_info.id):
                        runtime.leader = info
                        where = f"{info.hostname}:{info.port}" if info else "none"
                        log.info("leading master: %s", where)

        async with asyncio.TaskGroup() as group:
            follower = group.create_task(follow(), name="master-follow-leader")
            lease = await zk.election(url.path).campaign(encode_master_info(runtime.master_info))
            follower.cancel()
            store = zk.store(url.child("corral"))
            await recover_registry(runtime, store)
            runtime.elect()
            log.info("elected leading master %s at %s", runtime.master_info.id, url)
            group.create_task(runtime.run(), name="master-run")
            group.create_task(keep_registry(runtime, store, lease), name="master-registry")
            await lease.lost.wait()
            raise LeadershipLost(f"lost leadership in {url}: exiting so that another master leads")


async def recover_registry(runtime: MasterRuntime, store: Store) -> None:
    stored = await store.get(REGISTRY_KEY)
    if stored is None:
        return
    try:
        recovered = decode_registry(loads_object(stored.value))
    except (DecodeError, ValueError) as e:
        log.error("the registry in ZooKeeper is unreadable (%s): starting without it", e)
        return
    runtime.submit(recovered)


async def keep_registry(runtime: MasterRuntime, store: Store, lease: Lease) -> None:
    """Write the registry as soon as it changes (only on admission and removal of agents). Admission does not
    wait for the write, unlike upstream's: an agent admitted in the few milliseconds before a leader dies is
    unknown to the next one until it re-registers, and its tasks are reported unknown meanwhile."""
    written: bytes | None = None
    seen = -1
    stored = await store.get(REGISTRY_KEY)
    version = None if stored is None else stored.version
    changed = asyncio.Event()
    runtime.state_watchers.add(changed)
    while True:
        state = runtime.core.state
        if state.version != seen:
            seen = state.version
            document = dumps(registry_document(state))
            if document != written:
                version = await store.put(REGISTRY_KEY, document, version, fence=lease)
                written = document
        changed.clear()
        await changed.wait()
