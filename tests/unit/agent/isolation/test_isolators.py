"""`--isolation`: the names upstream uses, what a machine supports, and the default Corral picks."""

from __future__ import annotations

import pytest

from corral.agent.isolation.isolators import (
    Capabilities,
    IsolationError,
    best_available,
    needed_controllers,
    parse_isolation,
    unsupported,
)

CGROUPS = ("cgroups/cpu", "cgroups/mem", "cgroups/pids")


def test_names_keep_their_order_aliases_resolve_and_duplicates_go() -> None:
    assert parse_isolation(" cgroups/mem,cgroups/cpu ,posix/disk,cgroups/mem") == (
        "cgroups/mem",
        "cgroups/cpu",
        "disk/du",
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [("cgroups/cpu,cgroups/gpu", "unknown isolator 'cgroups/gpu'"), (" , ", "no isolator")],
)
def test_bad_names_are_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(IsolationError, match=problem):
        parse_isolation(text)


def test_the_default_is_cgroups_where_writable_else_upstreams_posix_pair() -> None:
    assert best_available(Capabilities(cgroup_version=1, has_unshare=True)) == CGROUPS
    assert best_available(Capabilities(cgroup_version=None, has_unshare=False)) == ("posix/cpu", "posix/mem")
    with_gpus = best_available(Capabilities(cgroup_version=2, has_unshare=True, has_gpus=True))
    assert with_gpus == (*CGROUPS, "gpu/nvidia")


def test_what_the_machine_cannot_provide_is_named() -> None:
    bare = Capabilities(cgroup_version=None, has_unshare=False)
    assert unsupported(("posix/cpu", "disk/du"), bare) is None
    assert "cgroups/mem: no writable cgroup hierarchy" in (unsupported(("cgroups/mem",), bare) or "")
    assert "namespaces/pid" in (unsupported(("namespaces/pid",), bare) or "")
    assert (
        unsupported(("cgroups/cpu", "namespaces/pid"), Capabilities(cgroup_version=1, has_unshare=True))
        is None
    )


def test_cgroups_cpu_reads_usage_from_cpuacct_on_v1_only() -> None:
    assert needed_controllers((*CGROUPS, "posix/cpu"), 1) == ("cpu", "cpuacct", "memory", "pids")
    assert needed_controllers(CGROUPS, 2) == ("cpu", "memory", "pids")
