"""The PyPI `marathon` 0.13.0 client, importable on Python 3.11: its `util.py` uses `collections.Iterable`,
removed in 3.10 (clients.md 3.1), so alias it before the first import. Test code only.
"""

from __future__ import annotations

import collections
import collections.abc

if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

from marathon import MarathonClient
from marathon.models import MarathonApp

__all__ = ["MarathonApp", "MarathonClient"]
