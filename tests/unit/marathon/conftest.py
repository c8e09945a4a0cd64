from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from corral.marathon.http_api import MarathonApi

from .test_runtime import make_harness


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Marathon's API in process, subscribed to a fake master."""
    harness = await make_harness(tmp_path)
    await harness.subscribe()
    transport = httpx.ASGITransport(app=MarathonApi(harness.runtime).app)
    async with httpx.AsyncClient(transport=transport, base_url="http://marathon") as c:
        yield c
    await harness.sqlite.close()
