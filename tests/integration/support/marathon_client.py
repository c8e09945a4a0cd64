"""The PyPI `marathon` 0.13.0 client, importable on Python 3.11: its `util.py` uses `collections.Iterable`,
removed in 3.10 (clients.md 3.1), so alias it before the first import. Test code only.

pytest's importlib mode may have registered `tests/unit/marathon` as the module `marathon` when unit and
integration tests run together; the PyPI package is then imported past it, and the entry put back.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib
import sys
from types import ModuleType

if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]


def _import_client() -> tuple[ModuleType, ModuleType]:
    shadow = {k: v for k, v in sys.modules.items() if k == "marathon" or k.startswith("marathon.")}
    if "marathon" in shadow and hasattr(shadow["marathon"], "MarathonClient"):
        return shadow["marathon"], importlib.import_module("marathon.models")
    for name in shadow:
        del sys.modules[name]
    try:
        client = importlib.import_module("marathon")
        models = importlib.import_module("marathon.models")
    finally:
        sys.modules.update(shadow)
    return client, models


_client, _models = _import_client()
MarathonClient = _client.MarathonClient
MarathonApp = _models.MarathonApp

__all__ = ["MarathonApp", "MarathonClient"]
