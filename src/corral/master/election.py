"""A master in a ZooKeeper ensemble: campaign, follow the leader while waiting, lead, and stop on losing the lease.

The candidacy is Mesos' own (`json.info_NNNNNNNNNN` holding MasterInfo JSON, `coord/zookeeper.py`), so
pymesos and Mesos tools find Corral's leader. While another master leads, `runtime.leader` names it and the
HTTP edge answers leader-only endpoints with a 307 there. A leader that loses its session (expired, or
suspended past recovery) stops at once by ending the process, as a Mesos master does: the state it holds is
soft (rebuilt from re-registering agents and re-subscribing frameworks), and an init system restarts it as a
fresh candidate. That is simpler and safer than unwinding a leader into a follower in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from corral.coord.detector import encode_master_info
from corral.coord.zk_url import ZkUrl
from corral.coord.zookeeper import ZooKeeper
from corral.core.errors import DaemonStopped
from corral.master.runtime import MasterRuntime

log = logging.getLogger(__name__)


class LeadershipLost(DaemonStopped):
    """The leading master's ZooKeeper lease ended: the process exits so that it cannot act as a leader."""


async def run_elected(runtime: MasterRuntime, url: ZkUrl, *, session_timeout: float) -> None:
    async with ZooKeeper(url, session_timeout=session_timeout) as zk:
        detector = zk.detector(url.path)

        async def follow() -> None:
            async with contextlib.aclosing(detector.watch()) as leaders:
                async for info in leaders:
                    if not runtime.leading:
                        runtime.leader = info
                        where = f"{info.hostname}:{info.port}" if info else "none"
                        log.info("leading master: %s", where)

        async with asyncio.TaskGroup() as group:
            follower = group.create_task(follow(), name="master-follow-leader")
            lease = await zk.election(url.path).campaign(encode_master_info(runtime.master_info))
            follower.cancel()
            runtime.elect()
            log.info("elected leading master %s at %s", runtime.master_info.id, url)
            group.create_task(runtime.run(), name="master-run")
            await lease.lost.wait()
            raise LeadershipLost(f"lost leadership in {url}: exiting so that another master leads")
