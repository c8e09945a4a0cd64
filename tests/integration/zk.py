"""The pytest side of `corral.testing.zookeeper`: skip where ZooKeeper cannot run, and ensemble fixtures.

Use from a test module:

    zk1 = ensemble_fixture("zk1", size=1)            # a module-scoped fixture named zk1

    def test_x(zk1: ZkEnsemble) -> None:
        url = zk1.url("/mesos")                      # zk://127.0.0.1:PORT/mesos
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.testing.zookeeper import ZkEnsemble, ZkServer, four_letter, zookeeper_missing

__all__ = [
    "ZkEnsemble",
    "ZkServer",
    "ensemble_fixture",
    "four_letter",
    "require_zookeeper",
    "running_ensemble",
]


def require_zookeeper() -> None:
    reason = zookeeper_missing()
    if reason is not None:
        pytest.skip(reason)


@contextlib.contextmanager
def running_ensemble(root: Path, size: int = 1) -> Iterator[ZkEnsemble]:
    require_zookeeper()
    with ZkEnsemble(root, size) as ensemble:
        yield ensemble


def ensemble_fixture(name: str, *, size: int = 1, scope: str = "module") -> Callable[..., Any]:
    """A pytest fixture named `name` yielding a running ZkEnsemble of `size` servers. It skips (saying why)
    only when Java or Debian's ZooKeeper is missing and `install-system-deps.sh` cannot install them."""

    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkEnsemble]:
        with running_ensemble(tmp_path_factory.mktemp(name), size) as ensemble:
            yield ensemble

    return pytest.fixture(scope=scope, name=name)(fixture)  # type: ignore[call-overload,no-any-return]
