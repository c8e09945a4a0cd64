"""Shared vocabulary of every Corral daemon. Imports nothing else of corral and performs no I/O."""
