"""Containers for tasks: cgroups (v1 and v2), a PID namespace, usage accounting and resource limitations.

See README.md in this directory for the flow.
"""
