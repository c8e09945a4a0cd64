"""The health checker's rules on a fake clock (`mesos.md` b.6 "Health checks"; `health_checks.py` 1-5)."""

from __future__ import annotations

from pathlib import Path

from corral.agent.effects import CancelProbe
from corral.agent.health_checks import HealthChecker, Outcome
from corral.core.ids import FrameworkId, TaskId
from corral.protocol.json import JsonObject, Reader
from corral.protocol.mesos import HealthCheck
from corral.testing.clock import FakeClock

SANDBOX = Path("/var/lib/corral/sandbox")


def checker(**fields: object) -> HealthChecker:
    raw: JsonObject = {"type": "TCP", "tcp": {"port": 31000}}
    raw.update(fields)  # type: ignore[arg-type]
    return HealthChecker(
        check=HealthCheck.from_json(Reader(raw)),
        framework_id=FrameworkId("F"),
        task_id=TaskId("t1"),
        sandbox=SANDBOX,
        environment=(("PORT0", "31000"),),
    )


def probe_at(c: HealthChecker, clock: FakeClock, healthy: bool) -> Outcome | None:
    """Advance to the next due probe, run it, and record its result at once."""
    assert c.next_due is not None
    clock.advance(c.next_due - clock.now())
    assert c.is_due(clock.now())
    probe = c.probe()
    return c.record(probe.attempt, healthy, clock.now())


def test_the_first_probe_waits_delay_seconds_and_the_next_one_interval_seconds_after_it_ends() -> None:
    clock, c = FakeClock(), checker(delay_seconds=15, interval_seconds=10)
    assert c.next_due is None  # not started: the task is not running yet
    assert c.start(clock.now()) == clock.now() + 15
    clock.advance(14.9)
    assert not c.is_due(clock.now())
    clock.advance(0.1)
    probe = c.probe()
    assert (probe.attempt, probe.task_id, probe.sandbox) == (1, "t1", SANDBOX)
    assert not c.is_due(clock.now() + 100)  # one probe at a time
    clock.advance(2.0)  # the probe took 2 s
    assert c.record(probe.attempt, True, clock.now()) == Outcome(healthy=True)
    assert c.next_due == clock.now() + 10


def test_only_the_first_success_and_the_first_after_failures_are_reported() -> None:
    clock, c = FakeClock(), checker(grace_period_seconds=0, consecutive_failures=5)
    c.start(clock.now())
    assert probe_at(c, clock, True) == Outcome(healthy=True)
    assert probe_at(c, clock, True) is None  # still healthy: nothing to say
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=1)
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=2)  # every failure
    assert probe_at(c, clock, True) == Outcome(healthy=True)
    assert c.healthy is True and c.consecutive_failures == 0


def test_failures_in_the_grace_period_are_ignored_until_the_first_success() -> None:
    clock, c = FakeClock(), checker(delay_seconds=0, interval_seconds=4, grace_period_seconds=10)
    c.start(clock.now())
    assert probe_at(c, clock, False) is None  # t=0
    assert probe_at(c, clock, False) is None  # t=4
    assert probe_at(c, clock, False) is None  # t=8
    assert c.healthy is None and c.consecutive_failures == 0
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=1)  # t=12: past grace


def test_after_a_success_the_grace_period_no_longer_hides_failures() -> None:
    clock, c = FakeClock(), checker(delay_seconds=0, interval_seconds=1, grace_period_seconds=100)
    c.start(clock.now())
    assert probe_at(c, clock, True) == Outcome(healthy=True)
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=1)


def test_consecutive_failures_kill_and_stop_the_checker() -> None:
    clock, c = FakeClock(), checker(grace_period_seconds=0, consecutive_failures=3)
    c.start(clock.now())
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=1)
    assert probe_at(c, clock, True) == Outcome(healthy=True)  # a success resets the count
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=1)
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=2)
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=3, kill=True)
    assert c.stopped and c.next_due is None


def test_a_limit_of_zero_kills_on_the_first_counted_failure_as_upstream_does() -> None:
    clock, c = FakeClock(), checker(grace_period_seconds=0, consecutive_failures=0)
    c.start(clock.now())
    assert probe_at(c, clock, False) == Outcome(healthy=False, consecutive_failures=1, kill=True)


def test_stopping_cancels_a_running_probe_and_drops_its_late_result() -> None:
    clock, c = FakeClock(), checker(delay_seconds=1)
    c.start(clock.now())
    clock.advance(1)
    probe = c.probe()
    assert c.stop() == CancelProbe(framework_id=FrameworkId("F"), task_id=TaskId("t1"))
    assert c.record(probe.attempt, True, clock.now()) is None
    assert c.next_due is None and not c.is_due(clock.now() + 100)
    assert c.stop() is None  # nothing runs any more


def test_a_result_of_an_earlier_probe_is_stale() -> None:
    clock, c = FakeClock(), checker(delay_seconds=0, grace_period_seconds=0)
    c.start(clock.now())
    first = c.probe()
    assert c.record(first.attempt + 1, False, clock.now()) is None
    assert c.probing  # still waiting for the probe it started
    assert c.record(first.attempt, False, clock.now()) == Outcome(healthy=False, consecutive_failures=1)
    assert c.record(first.attempt, False, clock.now()) is None  # answered already


def test_a_command_check_runs_with_the_task_environment_and_its_own_on_top() -> None:
    command = {
        "value": "test -f healthy",
        "environment": {"variables": [{"name": "PORT0", "value": "1"}, {"name": "X", "value": "y"}]},
    }
    clock, c = FakeClock(), checker(type="COMMAND", command=command, delay_seconds=0)
    c.start(clock.now())
    probe = c.probe()
    assert dict(probe.environment) == {"PORT0": "1", "X": "y"}
    assert probe.check.command is not None and probe.check.command.value == "test -f healthy"
