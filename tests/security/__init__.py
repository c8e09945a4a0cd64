"""Hostile-input tests (issue 10, reliability-security.md 4.3 and 5): every case a 4xx, never a 5xx, nothing
read or written outside where it belongs, and the daemon still serving afterwards."""
