"""Corral: the Mesosphere stack (Mesos, Marathon, Chronos) rebuilt in Python."""

__version__ = "0.1.0"
