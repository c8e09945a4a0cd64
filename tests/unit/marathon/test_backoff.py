"""Launch backoff (marathon.md c.3, upstream `RateLimiter` 1.9): the delay grows by backoffFactor per
failure up to maxLaunchDelaySeconds, and starts over on a new config, a reset, or a long healthy run."""

from __future__ import annotations

import pytest

from corral.marathon.backoff import LaunchDelays, queue_delay_json
from corral.testing.clock import FakeClock

from .scheduling_fixtures import V1, V2, make_app

WEB = make_app("/web").id


def test_an_app_that_fails_3_times_waits_1_then_1_15_then_1_3225_s() -> None:
    clock, delays, app = FakeClock(), LaunchDelays(), make_app("/web")
    waits = []
    for _ in range(3):
        delays = delays.add_failure(app, V1, clock.now())
        deadline = delays.launch_allowed_at(WEB, V1)
        assert deadline is not None
        waits.append(deadline - clock.now())
        clock.advance(2)  # relaunched, failed again two seconds later
    assert waits == pytest.approx([1.0, 1.15, 1.3225])


def test_the_delay_is_capped_at_max_launch_delay() -> None:
    clock, delays = FakeClock(), LaunchDelays()
    app = make_app("/web", backoffSeconds=10, backoffFactor=3, maxLaunchDelaySeconds=60)
    for _ in range(4):  # 10, 30, 60 (not 90), 60
        delays = delays.add_failure(app, V1, clock.now())
        clock.advance(1)
    delay = delays.get(WEB, V1)
    assert delay is not None and delay.delay_seconds == 60


def test_no_launch_before_the_deadline() -> None:
    clock, app = FakeClock(), make_app("/web", backoffSeconds=5)
    delays = LaunchDelays().add_failure(app, V1, clock.now())
    clock.advance(4.9)
    assert delays.is_delayed(WEB, V1, clock.now())
    clock.advance(0.1)
    assert not delays.is_delayed(WEB, V1, clock.now())


def test_a_new_configuration_starts_without_delay() -> None:
    clock, app = FakeClock(), make_app("/web", backoffSeconds=5)
    delays = LaunchDelays().add_failure(app, V1, clock.now())
    assert not delays.is_delayed(WEB, V2, clock.now())
    delays = delays.add_failure(app, V2, clock.now())
    delay = delays.get(WEB, V2)
    assert delay is not None and delay.delay_seconds == 5  # not 5 * 1.15


def test_delete_queue_delay_resets_it() -> None:
    clock, app = FakeClock(), make_app("/web", backoffSeconds=5)
    delays = LaunchDelays().add_failure(app, V1, clock.now()).reset(WEB)
    assert not delays.is_delayed(WEB, V1, clock.now())
    assert delays.reset(WEB) == delays


def test_a_failure_after_a_long_run_starts_over_at_backoff_seconds() -> None:
    clock, app = FakeClock(), make_app("/web", backoffSeconds=1, backoffFactor=2, maxLaunchDelaySeconds=100)
    delays = LaunchDelays()
    for _ in range(3):
        delays = delays.add_failure(app, V1, clock.now())
    clock.advance(100.5)  # longer than maxLaunchDelaySeconds without a failure
    assert delays.without_overdue(clock.now()) == LaunchDelays()
    delays = delays.add_failure(app, V1, clock.now())
    delay = delays.get(WEB, V1)
    assert delay is not None and delay.delay_seconds == 1


def test_queue_delay_json_counts_whole_seconds_and_says_overdue_when_waiting_for_offers() -> None:
    clock, app = FakeClock(), make_app("/web", backoffSeconds=10)
    delay = LaunchDelays().add_failure(app, V1, clock.now()).get(WEB, V1)
    clock.advance(2.5)
    assert queue_delay_json(delay, clock.now()) == {"timeLeftSeconds": 7, "overdue": False}
    clock.advance(8)
    assert queue_delay_json(delay, clock.now()) == {"timeLeftSeconds": 0, "overdue": True}
    assert queue_delay_json(None, clock.now()) == {"timeLeftSeconds": 0, "overdue": True}
