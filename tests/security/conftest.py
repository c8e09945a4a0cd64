"""Security tests run real daemons with the integration tests' helpers: make `support` importable (pytest
runs with --import-mode=importlib, which leaves sys.path alone)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "integration"))

from .cluster import cluster  # noqa: F401 (the shared `corral dev` of the hostile-input tests)
