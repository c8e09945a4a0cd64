"""Dominant Resource Fairness: the share arithmetic, and `DrfAllocator`, the hierarchical DRF allocator
under the name the master and the tests have always used (`hierarchical.py` has the algorithm).

A dominant share is the largest of allocated/total over the cluster's scalar resources; a role's share is
that of its subtree divided by its weight. With one role (`*`) and no quota this is plain DRF across
frameworks: each agent's free bundle goes to the framework with the lowest share, ties to the first.
"""

from __future__ import annotations

from corral.master.allocator.hierarchical import (
    HierarchicalAllocator,
    RandomAllocator,
    cluster_totals,
    dominant_share,
)

DrfAllocator = HierarchicalAllocator

__all__ = ["DrfAllocator", "HierarchicalAllocator", "RandomAllocator", "cluster_totals", "dominant_share"]
