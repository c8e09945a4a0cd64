"""Chronos: scheduled and dependent jobs (see DESIGN.md).

Pure modules: model (Job), container, schedule (ISO 8601 and cron, time zones, catch-up), wallclock (the DST
rules), dag (parents graph and dependency progress), validation (input rules and name checks).
"""
