"""Helpers for the integration tests: pymesos schedulers and executors run against a real `corral dev`."""
