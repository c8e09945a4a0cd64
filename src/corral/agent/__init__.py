"""The agent: pure core and status update manager, process supervision, HTTP edge, runtime shell."""
