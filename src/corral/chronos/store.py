"""Chronos's state in a coordination Store (SQLite in `corral dev`, ZooKeeper in production).

Layout under the prefix (default `chronos/`): `jobs/<name>` (the job JSON, counters included),
`runs/<task id>` (every queued, active and recent run), `stats/<name>` (run times, skipped slots),
`progress` (dependency progress) and `framework_id`. Names are percent-encoded in keys.

Invariant: `save(old, new)` writes runs before jobs. A crash in between leaves a run whose slot the job's
schedule has not yet passed; re-planning that slot finds the run by its task id and launches nothing.
This process is the only writer (the leader), so it keeps each key's version and writes with compare-and-set;
a conflict (someone else wrote) re-reads the version and writes once more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import quote, unquote

from corral.chronos.dag import DependencyProgress
from corral.chronos.model import Job
from corral.chronos.runs import Run
from corral.chronos.scheduler import ChronosState, JobRuns, runs_by_job
from corral.chronos.stats import JobStats
from corral.coord.ports import Store, VersionConflict
from corral.core.errors import DecodeError
from corral.core.ids import TaskId
from corral.protocol.json import JsonObject, dumps, loads

log = logging.getLogger(__name__)
K = TypeVar("K", bound=str)
V = TypeVar("V")


class ChronosStore:
    def __init__(self, store: Store, prefix: str = "chronos/") -> None:
        self.store = store
        self.prefix = prefix
        self._versions: dict[str, int] = {}

    def _key(self, kind: str, name: str = "") -> str:
        return f"{self.prefix}{kind}/{quote(name, safe='')}" if name else f"{self.prefix}{kind}"

    async def _read(self, key: str) -> bytes | None:
        got = await self.store.get(key)
        if got is None:
            self._versions.pop(key, None)
            return None
        self._versions[key] = got.version
        return got.value

    async def _put(self, key: str, value: JsonObject) -> None:
        data = dumps(value)
        try:
            self._versions[key] = await self.store.put(key, data, self._versions.get(key))
        except VersionConflict:
            current = await self.store.get(key)
            expected = None if current is None else current.version
            self._versions[key] = await self.store.put(key, data, expected)

    async def _delete(self, key: str) -> None:
        await self.store.delete(key, None)
        self._versions.pop(key, None)

    async def _load_all(self, kind: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        base = self._key(kind) + "/"
        for key in await self.store.list(base):
            value = await self._read(key)
            if value is not None:
                out[unquote(key.removeprefix(base))] = value
        return out

    async def load(self) -> ChronosState:
        jobs: dict[str, Job] = {}
        for name, raw in (await self._load_all("jobs")).items():
            try:
                jobs[name] = Job.from_json(loads(raw))
            except DecodeError as e:
                log.error("job %s in the store cannot be read, ignored: %s", name, e)
        loaded: list[Run] = []
        for task_id, raw in (await self._load_all("runs")).items():
            try:
                loaded.append(Run.from_json(loads(raw)))
            except (DecodeError, ValueError) as e:
                log.error("run %s in the store cannot be read, ignored: %s", task_id, e)
        runs = runs_by_job(loaded)
        stats = {
            name: JobStats.from_json(loads(raw)) for name, raw in (await self._load_all("stats")).items()
        }
        raw_progress = await self._read(self._key("progress"))
        progress = (
            DependencyProgress()
            if raw_progress is None
            else DependencyProgress.from_json(loads(raw_progress))
        )
        return ChronosState(jobs=jobs, runs=runs, stats=stats, progress=progress)

    async def save(self, old: ChronosState, new: ChronosState) -> int:
        """Write what changed from `old` to `new` (runs first); the number of keys written or deleted."""
        written = 0
        if old.runs is not new.runs:
            for name in new.runs.keys() | old.runs.keys():
                before, after = old.runs.get(name), new.runs.get(name)
                if before is not after:
                    written += await self._sync("runs", _by_task(before), _by_task(after), Run.to_json)
        written += await self._sync("jobs", old.jobs, new.jobs, Job.to_json)
        written += await self._sync("stats", old.stats, new.stats, JobStats.to_json)
        if old.progress != new.progress:
            await self._put(self._key("progress"), new.progress.to_json())
            written += 1
        return written

    async def _sync(
        self, kind: str, old: Mapping[K, V], new: Mapping[K, V], encode: Callable[[V], JsonObject]
    ) -> int:
        if old is new:
            return 0
        count = 0
        for name, value in new.items():
            if (before := old.get(name)) is not value and before != value:
                await self._put(self._key(kind, name), encode(value))
                count += 1
        for name in old.keys() - new.keys():
            await self._delete(self._key(kind, name))
            count += 1
        return count

    async def framework_id(self) -> str | None:
        raw = await self._read(self._key("framework_id"))
        return None if raw is None else raw.decode()

    async def save_framework_id(self, framework_id: str) -> None:
        key = self._key("framework_id")
        try:
            self._versions[key] = await self.store.put(key, framework_id.encode(), self._versions.get(key))
        except VersionConflict:
            current = await self.store.get(key)
            expected = None if current is None else current.version
            self._versions[key] = await self.store.put(key, framework_id.encode(), expected)


def _by_task(runs: JobRuns | None) -> dict[TaskId, Run]:
    return {} if runs is None else {r.task_id: r for r in runs.all()}
