"""The limit arithmetic of the cgroup isolators (`mesos.md` f.2), checked against naive restatements."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from corral.agent.isolation.limits import (
    COMMAND_EXECUTOR_OVERHEAD,
    MB,
    ContainerLimits,
    cfs_quota_us,
    container_limits,
    cpu_max,
    cpu_shares,
    cpu_weight,
    format_bytes,
    memory_limit_bytes,
)
from corral.core.resources import Resources

# Mesos scalars are multiples of 0.001: draw them as such.
cpus = st.integers(min_value=1, max_value=256_000).map(lambda m: m / 1000)
mems = st.integers(min_value=1, max_value=1 << 24)  # MB


@given(cpus)
def test_shares_are_1024_per_cpu_truncated_and_at_least_2(value: float) -> None:
    exact = Fraction(1024) * Fraction(round(value * 1000), 1000)
    assert cpu_shares(value) == max(int(exact), 2)


@given(cpus, cpus)
def test_more_cpus_never_get_fewer_shares_or_a_smaller_quota(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert cpu_shares(low) <= cpu_shares(high)
    assert cfs_quota_us(low) <= cfs_quota_us(high)


@given(cpus)
def test_the_quota_is_cpus_times_the_100ms_period_exactly_and_at_least_1ms(value: float) -> None:
    exact = Fraction(100_000) * Fraction(round(value * 1000), 1000)
    assert exact.denominator == 1  # a thousandth of a cpu is 100 us: the quota is always whole
    assert cfs_quota_us(value) == max(int(exact), 1000)


def test_float_noise_does_not_cost_a_microsecond() -> None:
    assert 0.57 * 100_000 < 57_000  # 56999.99...
    assert cfs_quota_us(0.57) == 57_000
    assert cfs_quota_us(0.001) == 1000  # 100 us, raised to the 1 ms minimum
    assert cpu_shares(0.001) == 2


@given(st.integers(min_value=2, max_value=262_144), st.integers(min_value=2, max_value=262_144))
def test_v2_weights_keep_the_order_of_shares_within_1_to_10000(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert 1 <= cpu_weight(low) <= cpu_weight(high) <= 10_000


def test_v2_weight_is_runc_and_systemds_map() -> None:
    assert (cpu_weight(2), cpu_weight(1024), cpu_weight(262_144)) == (1, 39, 10_000)
    assert cpu_max(60_000) == "60000 100000"
    assert cpu_max(None) == "max 100000"


@given(mems)
def test_memory_is_mb_in_bytes_and_at_least_32_mb(value: int) -> None:
    assert memory_limit_bytes(value) == max(value, 32) * MB


def test_a_command_tasks_container_holds_the_task_and_the_executor_overhead() -> None:
    task = Resources.of(cpus=0.5, mem=32, disk=10, ranges={"ports": [(31000, 31000)]})
    limits = container_limits(task + COMMAND_EXECUTOR_OVERHEAD, enable_cfs=True)
    assert limits == ContainerLimits(
        cpus=0.6, cpu_shares=614, cfs_quota_us=60_000, mem_limit_bytes=64 * MB, disk_limit_bytes=10 * MB
    )
    assert container_limits(Resources.of(cpus=1), enable_cfs=False) == ContainerLimits(
        cpus=1, cpu_shares=1024
    )
    assert container_limits(Resources(), enable_cfs=True) == ContainerLimits()


@given(st.integers(min_value=0, max_value=1 << 50))
def test_bytes_print_in_the_largest_unit_that_loses_nothing(count: int) -> None:
    text = format_bytes(count)
    number, unit = int(text.rstrip("BKMGT")), text.lstrip("0123456789")
    scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]
    assert number * scale == count
    if unit != "TB" and count:
        assert number % 1024 != 0  # else a bigger unit would have been lossless


def test_bytes_examples() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1024, 64 * MB, 64 * MB + 1024, 3 << 30)] == [
        "0B",
        "1023B",
        "1KB",
        "64MB",
        "65537KB",
        "3GB",
    ]
