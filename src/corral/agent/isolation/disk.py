"""disk/du: how much a sandbox holds, measured as upstream measures it (`du -k -s`, 1 KB blocks)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from corral.core.errors import CorralError


class DuError(CorralError):
    """`du` failed or said something unexpected."""


async def disk_usage(path: Path) -> int:
    """Bytes used under `path`. Raises DuError."""
    try:
        process = await asyncio.create_subprocess_exec(
            "du", "-k", "-s", str(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as e:
        raise DuError(f"cannot run du: {e}") from e
    out, err = await process.communicate()
    if process.returncode != 0:
        raise DuError(f"du {path} failed: {err.decode(errors='replace').strip()}")
    try:
        return int(out.split()[0]) * 1024
    except (IndexError, ValueError):
        raise DuError(f"unexpected output from du: {out[:100]!r}") from None
