"""Limitations in upstream's words: the memory isolator's OOM message, disk/du's quota message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from corral.agent.isolation.limitations import Limitation, disk_limitation, memory_limitation
from corral.agent.isolation.limits import MB


def test_an_oom_names_the_limit_and_the_peak() -> None:
    assert memory_limitation(64 * MB, 64 * MB) == Limitation(
        reason="REASON_CONTAINER_LIMITATION_MEMORY",
        message="Memory limit exceeded: Requested: 64MB Maximum Used: 64MB",
    )
    assert memory_limitation(None, None).message == "Memory limit exceeded:"


@given(st.integers(min_value=0, max_value=1 << 40), st.integers(min_value=0, max_value=1 << 40))
def test_disk_is_over_quota_only_strictly_above_it(used: int, quota: int) -> None:
    limitation = disk_limitation(used, quota)
    assert (limitation is not None) == (used > quota)


def test_disk_message() -> None:
    limitation = disk_limitation(2932 * 1024, 1 * MB)
    assert limitation == Limitation(
        reason="REASON_CONTAINER_LIMITATION_DISK", message="Disk usage (2932KB) exceeds quota (1MB)"
    )
