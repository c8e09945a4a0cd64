"""Leader election and detection on a real ZooKeeper: Mesos' layout (`mesos.md` d.1), what pymesos reads
(`clients.md` 2.3), and leases under crashes and partitions (`reliability-security.md` R1, R2; Mesos'
`MasterContenders`, `MasterDetectorExpireMasterZKSession`, `FaultToleranceTest.SplitBrainMasters`).

Sessions use a 2 s timeout (`--zk_session_timeout` scaled down); the servers' tickTime is 500 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import queue
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from zk import ZkEnsemble, ensemble_fixture, running_ensemble

from corral.coord.detector import decode_master_info, encode_master_info
from corral.coord.ports import CoordError
from corral.coord.zookeeper import ZooKeeper, ZooKeeperElection, ZooKeeperLease
from corral.protocol.mesos import MasterInfo

pytestmark = pytest.mark.integration

SESSION = 2.0
zk1 = ensemble_fixture("zk1", size=1)


def master(port: int) -> MasterInfo:
    return MasterInfo(id=f"master-{port}", ip="127.0.0.1", port=port, hostname="localhost")


def group() -> str:
    """A fresh election path, so each test's sequence numbers start at 0."""
    return f"/t{uuid.uuid4().hex[:8]}/mesos"


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, within: float, what: str) -> None:
    """Poll `check` every 20 ms until true; fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g}s: {what}")
        await asyncio.sleep(0.02)


async def count(zk: ZooKeeper, path: str, n: int) -> bool:
    """Whether the group at `path` has `n` children."""
    try:
        return len(await asyncio.to_thread(zk.client.get_children, path)) == n
    except NoNodeError:
        return n == 0
    except KazooException:  # disconnected for now
        return False


@contextlib.asynccontextmanager
async def sessions(hosts: list[str], path: str = "/") -> AsyncIterator[list[ZooKeeper]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(ZooKeeper(f"zk://{h}{path}", session_timeout=SESSION))
            for h in hosts
        ]


class Contender:
    """A master's leadership loop (campaign; lead until the lease is lost; campaign again), recording each
    term as [elected at, lost at] on the loop's clock."""

    def __init__(self, name: str, election: ZooKeeperElection, port: int) -> None:
        self.name = name
        self.election = election
        self.info = encode_master_info(master(port))
        self.terms: list[list[float]] = []
        self.lease: ZooKeeperLease | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.lease = await self.election.campaign(self.info)
            except CoordError:  # the session was closed: this master is gone
                return
            term = [loop.time(), math.inf]
            self.terms.append(term)
            await self.lease.lost.wait()
            term[1] = loop.time()

    @property
    def leads(self) -> bool:
        return self.lease is not None and self.lease.is_held


def assert_no_two_leaders(contenders: list[Contender]) -> None:
    terms = sorted((start, end, c.name) for c in contenders for start, end in c.terms)
    for (_, end, a), (start, _, b) in itertools.pairwise(terms):
        assert start >= end, f"{b} was elected at {start:.3f} while {a} led until {end:.3f}"


# ---------------------------------------------------------------- layout


async def test_a_candidacy_is_an_ephemeral_sequential_json_info_znode_holding_master_info(
    zk1: ZkEnsemble,
) -> None:
    path = group()
    async with ZooKeeper(zk1.url(path), session_timeout=SESSION) as zk:
        lease = await zk.election().campaign(encode_master_info(master(5050)))
        children = await asyncio.to_thread(zk.client.get_children, path)
        assert len(children) == 1 and re.fullmatch(r"json\.info_\d{10}", children[0])
        assert lease.path == f"{path}/{children[0]}"
        data, stat = await asyncio.to_thread(zk.client.get, lease.path)
        assert stat.ephemeralOwner == zk.session_id
        doc = orjson.loads(data)
        assert doc["address"] == {"hostname": "localhost", "ip": "127.0.0.1", "port": 5050}
        assert doc["pid"] == "master@127.0.0.1:5050"
        assert doc["ip"] == 16777343 and doc["port"] == 5050 and doc["id"] == "master-5050"
        assert decode_master_info(data) == master(5050)
    async with ZooKeeper(zk1.url(path), session_timeout=SESSION) as zk:
        assert await asyncio.to_thread(zk.client.get_children, path) == []  # ephemeral: gone with the session


async def test_other_children_of_the_group_are_ignored(zk1: ZkEnsemble) -> None:
    path = group()
    async with ZooKeeper(zk1.url(path), session_timeout=SESSION) as zk:
        await asyncio.to_thread(
            zk.client.create, f"{path}/log_replicas/0000000000", b"log-replica(1)@x:5050", makepath=True
        )
        await asyncio.to_thread(zk.client.create, f"{path}/info_0000000000", b"legacy protobuf")
        assert await zk.election().leader() is None
        lease = await asyncio.wait_for(zk.election().campaign(b"{}"), 5)
        assert lease.is_held  # the legacy `info_0000000000` sorts lower as a string but is not a candidate
        assert lease.path == f"{path}/json.info_0000000002"  # the parent's counter counts every child


# ---------------------------------------------------------------- election


async def test_of_three_contenders_one_leads_and_the_next_takes_over_when_its_session_closes(
    zk1: ZkEnsemble,
) -> None:
    path = group()
    async with sessions([zk1.hosts] * 4, path) as (a, b, c, observer):
        contenders = [
            Contender(n, zk.election(), port)
            for n, zk, port in (("a", a, 5050), ("b", b, 5051), ("c", c, 5052))
        ]
        async with asyncio.TaskGroup() as tasks:
            runs = [tasks.create_task(x.run()) for x in contenders]

            await eventually(lambda: count(observer, path, 3), within=5, what="three candidacies")
            await eventually(lambda: sum(x.leads for x in contenders) == 1, within=5, what="a leader")
            [leader] = [x for x in contenders if x.leads]
            assert await observer.election().leader() == leader.info

            closed = {"a": a, "b": b, "c": c}[leader.name]
            started = time.monotonic()
            await closed.close()  # the leader dies: its session closes, its znode goes
            assert leader.lease is not None and leader.lease.lost.is_set()
            await eventually(
                lambda: sum(x.leads for x in contenders if x is not leader) == 1,
                within=SESSION,
                what="another leader within the session timeout",
            )
            assert time.monotonic() - started < SESSION
            [successor] = [x for x in contenders if x.leads]
            assert await observer.election().leader() == successor.info
            for run in runs:
                run.cancel()
        assert_no_two_leaders(contenders)


CONTENDER = """
import asyncio, sys
from corral.coord.zookeeper import ZooKeeper

async def main():
    async with ZooKeeper(sys.argv[1], session_timeout=float(sys.argv[2])) as zk:
        lease = await zk.election().campaign(b'{"id": "crashing"}')
        print("elected", lease.path, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_crashed_leader_is_replaced_once_its_session_expires(zk1: ZkEnsemble) -> None:
    path = group()
    crashing = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CONTENDER, zk1.url(path), str(SESSION), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert crashing.stdout is not None
        line = await asyncio.wait_for(crashing.stdout.readline(), 20)
        assert line.startswith(b"elected ")
        async with ZooKeeper(zk1.url(path), session_timeout=SESSION) as zk:
            standby = asyncio.create_task(zk.election().campaign(b"{}"))
            await eventually(
                lambda: count(zk, path, 2),
                within=5,
                what="the standby's candidacy",
            )
            assert not standby.done()
            crashing.send_signal(signal.SIGKILL)  # no goodbye: the session lives until it times out
            started = time.monotonic()
            lease = await asyncio.wait_for(standby, SESSION + 3)
            elapsed = time.monotonic() - started
            assert lease.is_held
            # one session timeout after the last ping (pings go every third of it; expiry is tick-rounded)
            assert 0.5 < elapsed < SESSION + 2, elapsed
    finally:
        if crashing.returncode is None:
            crashing.kill()
        await crashing.wait()


async def test_a_resigned_lease_is_lost_and_withdrawn(zk1: ZkEnsemble) -> None:
    path = group()
    async with sessions([zk1.hosts] * 2, path) as (a, b):
        first = await a.election().campaign(b"1")
        second = asyncio.create_task(b.election().campaign(b"2"))
        await first.resign()
        assert not first.is_held and first.lost.is_set()
        assert (await asyncio.wait_for(second, 5)).is_held
        assert await a.election().leader() == b"2"
        await first.resign()  # idempotent


async def test_a_deleted_candidacy_ends_the_lease(zk1: ZkEnsemble) -> None:
    path = group()
    async with sessions([zk1.hosts] * 2, path) as (a, operator):
        lease = await a.election().campaign(b"1")
        await asyncio.to_thread(operator.client.delete, lease.path)
        await asyncio.wait_for(lease.lost.wait(), 5)
        assert not lease.is_held


async def test_cancelling_a_campaign_withdraws_the_candidacy(zk1: ZkEnsemble) -> None:
    path = group()
    async with sessions([zk1.hosts] * 2, path) as (a, b):
        await a.election().campaign(b"1")
        waiting = asyncio.create_task(b.election().campaign(b"2"))
        await eventually(lambda: count(a, path, 2), within=5, what="2 candidates")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await eventually(lambda: count(a, path, 1), within=5, what="withdrawn")


# ---------------------------------------------------------------- detection


async def test_our_detector_follows_the_leader(zk1: ZkEnsemble) -> None:
    path = group()
    async with (
        sessions([zk1.hosts] * 3, path) as (a, b, watcher),
        contextlib.aclosing(watcher.detector().watch()) as masters,
    ):
        assert await asyncio.wait_for(anext(masters), 5) is None  # no group yet
        lease_a = await a.election().campaign(encode_master_info(master(5050)))
        assert await asyncio.wait_for(anext(masters), 5) == master(5050)
        lease_b = asyncio.create_task(b.election().campaign(encode_master_info(master(5051))))
        await eventually(lambda: count(a, path, 2), within=5, what="b stands")
        await lease_a.resign()
        assert await asyncio.wait_for(anext(masters), 5) == master(5051)
        await (await lease_b).resign()
        assert await asyncio.wait_for(anext(masters), 5) is None


class PymesosAgent:
    """What pymesos' scheduler does with its detector's callbacks (onNewMasterDetectedMessage)."""

    def __init__(self) -> None:
        self.masters: queue.Queue[str | None] = queue.Queue()

    def onNewMasterDetectedMessage(self, data: bytes | None) -> None:
        try:
            address = orjson.loads(data or b"null")["address"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return  # pymesos logs and ignores what it cannot parse
        if address.get("ip") and address.get("port"):
            self.masters.put(f"{address['ip']}:{address['port']}")

    def onNoMasterDetectedMessage(self) -> None:
        self.masters.put(None)

    async def next(self) -> str | None:
        return await asyncio.to_thread(self.masters.get, timeout=10)


async def test_an_unmodified_pymesos_detector_finds_the_leader(zk1: ZkEnsemble) -> None:
    detector_module = pytest.importorskip("pymesos.detector")
    path = group()
    async with sessions([zk1.hosts] * 2, path) as (a, b):
        lease_a = await a.election().campaign(encode_master_info(master(5050)))
        agent = PymesosAgent()
        # pymesos strips `zk://` and hands the rest to kazoo, so the path becomes its chroot
        detector = detector_module.MasterDetector(f"{zk1.hosts}{path}", agent)
        await asyncio.to_thread(detector.start)
        try:
            assert await agent.next() == "127.0.0.1:5050"
            lease_b = asyncio.create_task(b.election().campaign(encode_master_info(master(5051))))
            await eventually(lambda: count(a, path, 2), within=5, what="2 candidates")
            await lease_a.resign()
            assert await agent.next() == "127.0.0.1:5051"
            await (await lease_b).resign()
            assert await agent.next() is None
        finally:
            await asyncio.to_thread(detector.stop)


# ---------------------------------------------------------------- faults


async def test_a_leader_cut_off_from_zookeeper_stops_leading_before_another_is_elected(
    tmp_path: Path,
) -> None:
    """Split brain (FaultToleranceTest.SplitBrainMasters): the leader's only server is paused; the quorum
    expires its session and elects the standby, but the old leader has given up its lease before that."""
    with running_ensemble(tmp_path, size=3) as ensemble:
        cut, *others = sorted(ensemble.servers, key=lambda s: s.mode() == "leader")  # cut a follower
        path = group()
        async with sessions([cut.address, ",".join(s.address for s in others)], path) as (zk_a, zk_b):
            a = Contender("a", zk_a.election(), 5050)
            b = Contender("b", zk_b.election(), 5051)
            async with asyncio.TaskGroup() as tasks:
                run_a = tasks.create_task(a.run())
                await eventually(lambda: a.leads, within=5, what="a leads")
                run_b = tasks.create_task(b.run())
                await eventually(
                    lambda: count(zk_b, path, 2),
                    within=5,
                    what="b stands",
                )
                cut.pause()
                try:
                    started = time.monotonic()
                    assert a.lease is not None
                    await asyncio.wait_for(a.lease.lost.wait(), SESSION)  # kazoo: SUSPENDED, at once
                    lost_after = time.monotonic() - started
                    await eventually(lambda: b.leads, within=SESSION + 3, what="b elected")
                    assert not a.leads
                    assert lost_after < SESSION
                finally:
                    cut.resume()
                await asyncio.to_thread(ensemble.wait_serving)
                await eventually(lambda: zk_a.is_connected, within=10, what="a reconnects (new session)")
                await eventually(
                    lambda: count(zk_b, path, 2),
                    within=5,
                    what="a stands again, behind b",
                )
                assert b.leads and not a.leads
                run_a.cancel()
                run_b.cancel()
        assert_no_two_leaders([a, b])


async def test_when_the_only_server_stops_the_leader_stops_and_one_leader_returns(tmp_path: Path) -> None:
    with running_ensemble(tmp_path, size=1) as ensemble:
        [server] = ensemble.servers
        path = group()
        async with sessions([server.address] * 3, path) as (zk_a, zk_b, zk_watcher):
            a = Contender("a", zk_a.election(), 5050)
            b = Contender("b", zk_b.election(), 5051)
            detected: asyncio.Queue[MasterInfo | None] = asyncio.Queue()

            async def detect() -> None:
                async for found in zk_watcher.detector().watch():
                    await detected.put(found)

            async with asyncio.TaskGroup() as tasks:
                runs = [tasks.create_task(detect())]
                assert await asyncio.wait_for(detected.get(), 5) is None
                runs.append(tasks.create_task(a.run()))
                assert await asyncio.wait_for(detected.get(), 5) == master(5050)
                await eventually(lambda: a.leads, within=5, what="a leads")
                runs.append(tasks.create_task(b.run()))
                await eventually(
                    lambda: count(zk_b, path, 2),
                    within=5,
                    what="b stands",
                )
                server.pause()
                try:
                    assert a.lease is not None
                    await asyncio.wait_for(a.lease.lost.wait(), SESSION)
                    assert not a.leads and not b.leads
                    # Mesos' detector: no leader once the session would have expired (then the server
                    # may expire the sessions on resume, or not)
                    assert await asyncio.wait_for(detected.get(), 2 * SESSION + 1) is None
                    assert (zk_watcher.disconnected_for() or 0.0) >= SESSION
                    assert not a.leads and not b.leads
                finally:
                    server.resume()
                await eventually(lambda: a.leads + b.leads == 1, within=SESSION + 5, what="one leader again")
                await eventually(
                    lambda: count(zk_b, path, 2),
                    within=SESSION + 5,
                    what="both candidates again (a stale candidacy is withdrawn)",
                )
                assert a.leads + b.leads == 1
                leader = decode_master_info((a if a.leads else b).info)
                while (found := await asyncio.wait_for(detected.get(), 5)) != leader:
                    assert found is not None  # at most a stale leader first: `a` before it withdrew
                for run in runs:
                    run.cancel()
        assert_no_two_leaders([a, b])


async def test_an_expired_session_ends_the_lease_and_a_new_one_campaigns_again(zk1: ZkEnsemble) -> None:
    """MasterDetectorExpireMasterZKSession: the session is expired on the servers (closed by a second client
    with the same session id and password, as kazoo's own test harness does)."""
    path = group()
    async with sessions([zk1.hosts], path) as (zk,):
        a = Contender("a", zk.election(), 5050)
        async with asyncio.TaskGroup() as tasks:
            run = tasks.create_task(a.run())
            await eventually(lambda: a.leads, within=5, what="a leads")
            first, old_session = a.lease, zk.session_id
            assert first is not None and old_session is not None
            await asyncio.to_thread(expire, zk1.hosts, zk.client.client_id)
            await asyncio.wait_for(first.lost.wait(), SESSION)
            await eventually(
                lambda: a.leads and a.lease is not first, within=SESSION + 3, what="a leads again"
            )
            assert zk.session_id != old_session
            assert a.lease is not None and a.lease.path != first.path
            assert await zk.election().leader() == a.info
            run.cancel()
        assert_no_two_leaders([a])


def expire(hosts: str, client_id: tuple[int, bytes]) -> None:
    intruder = KazooClient(hosts=hosts, client_id=client_id)
    intruder.start(timeout=5)
    intruder.stop()
    intruder.close()


async def test_a_candidacy_left_by_a_lost_create_answer_is_removed(zk1: ZkEnsemble) -> None:
    """A create whose answer is lost may still have made the znode; the next campaign finds and removes it."""
    path = group()
    async with sessions([zk1.hosts], path) as (zk,):
        orphan = await asyncio.to_thread(
            zk.client.create, f"{path}/json.info_", b"{}", ephemeral=True, sequence=True, makepath=True
        )
        election = zk.election()
        election._maybe_orphans = True  # as after a CoordUnavailable from the create
        lease = await asyncio.wait_for(election.campaign(b"{}"), 5)
        assert lease.is_held and lease.path != orphan
        assert await children(zk, path) == [lease.path.rsplit("/", 1)[1]]


async def children(zk: ZooKeeper, path: str) -> list[str]:
    return sorted(await asyncio.to_thread(zk.client.get_children, path))


async def test_a_closed_session_refuses_to_campaign_or_watch(zk1: ZkEnsemble) -> None:
    zk = ZooKeeper(zk1.url(group()), session_timeout=SESSION)
    await zk.start()
    lease = await zk.election().campaign(b"{}")
    await zk.close()
    assert lease.lost.is_set() and not lease.is_held
    with pytest.raises(CoordError, match="closed"):
        await zk.election().campaign(b"{}")
    with pytest.raises(CoordError, match="closed"):
        await anext(zk.election().watch_leader())
