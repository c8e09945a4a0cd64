"""Test kit: a fake clock, builders and the in-process SimCluster. Used by tests and benchmarks only."""
