"""Marathon as a daemon: its SQLite store, its scheduler driver, its runtime and its HTTP API, wired.

`corral marathon` runs one of these on its own; `corral dev` runs one beside the master and agents, in the
same event loop (the driver still talks to the master over loopback HTTP, as any framework does).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from corral.coord.local import SqliteStore
from corral.frameworks.driver import SchedulerDriver
from corral.marathon.http_api import MarathonApi
from corral.marathon.runtime import Driver, MarathonConfig, MarathonRuntime
from corral.marathon.store import MarathonStore
from corral.protocol.mesos import FrameworkInfo

if TYPE_CHECKING:
    from starlette.types import ASGIApp


class MarathonService:
    def __init__(self, config: MarathonConfig, state_path: Path) -> None:
        self.config = config
        self._sqlite = SqliteStore(state_path)

        def make_driver(info: FrameworkInfo) -> Driver:
            return SchedulerDriver(config.master, info)

        self.runtime = MarathonRuntime(config, MarathonStore(self._sqlite), make_driver)
        self.api = MarathonApi(self.runtime)

    @property
    def app(self) -> ASGIApp:
        return self.api.app

    async def run(self) -> None:
        try:
            await self.runtime.run()
        finally:
            await self._sqlite.close()
