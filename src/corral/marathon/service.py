"""Marathon as a daemon: its store, its scheduler driver, its runtime and its HTTP API, wired.

`corral marathon` runs one of these on its own (state in SQLite, or in ZooKeeper with `--zk`, where it runs
only while elected); `corral dev` runs one beside the master and agents, in the same event loop (the driver
still talks to the master over loopback HTTP, as any framework does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from corral.coord.local import SqliteStore
from corral.coord.ports import Store
from corral.frameworks.driver import SchedulerDriver
from corral.marathon.http_api import MarathonApi
from corral.marathon.runtime import Driver, MarathonConfig, MarathonRuntime
from corral.marathon.store import MarathonStore
from corral.protocol.mesos import FrameworkInfo
from corral.security.credentials import Credential

if TYPE_CHECKING:
    from starlette.types import ASGIApp


class MarathonService:
    def __init__(
        self,
        config: MarathonConfig,
        store: Store,
        *,
        close_store: Callable[[], Awaitable[None]] | None = None,
        zk_session_timeout: float = 10.0,
        credential: Credential | None = None,
    ) -> None:
        self.config = config
        self._close_store = close_store

        def make_driver(info: FrameworkInfo) -> Driver:
            return SchedulerDriver(
                config.master,
                info,
                zk_session_timeout=zk_session_timeout,
                credential=credential,
                tls=config.tls,
            )

        self.runtime = MarathonRuntime(config, MarathonStore(store), make_driver)
        self.api = MarathonApi(self.runtime)

    @classmethod
    def with_sqlite(
        cls, config: MarathonConfig, state_path: Path, *, credential: Credential | None = None
    ) -> MarathonService:
        sqlite = SqliteStore(state_path)
        return cls(config, sqlite, close_store=sqlite.close, credential=credential)

    @property
    def app(self) -> ASGIApp:
        return self.api.app

    async def run(self) -> None:
        try:
            await self.runtime.run()
        finally:
            if self._close_store is not None:
                await self._close_store()
