"""A framework's principal against the authenticated one (`master/framework_principal.py`, mesos.md a.3):
a mismatch is a 400, and no framework changes its principal by subscribing again."""

from __future__ import annotations

from dataclasses import replace

from corral.master.framework_principal import mismatch, subscribe_problem
from corral.protocol.mesos import FrameworkInfo

INFO = FrameworkInfo(user="nobody", name="fw", principal="marathon")


def test_an_authenticated_subscribe_must_declare_the_same_principal() -> None:
    assert subscribe_problem(INFO, "marathon", None) is None
    problem = subscribe_problem(INFO, "chronos", None)
    assert problem == (
        "Authenticated principal 'chronos' does not match principal 'marathon' set in `FrameworkInfo`"
    )


def test_unauthenticated_calls_are_not_judged_by_principal() -> None:
    assert subscribe_problem(INFO, None, None) is None
    assert mismatch(None, "marathon") is None
    assert mismatch(None, None) is None


def test_a_framework_may_not_change_its_principal_on_resubscribing() -> None:
    registered = replace(INFO, principal="old")
    assert subscribe_problem(INFO, None, registered) == "Changing framework's principal is not allowed"
    assert subscribe_problem(INFO, "marathon", registered) == "Changing framework's principal is not allowed"
    assert subscribe_problem(INFO, "marathon", INFO) is None


def test_a_subscribed_frameworks_calls_must_come_from_its_principal() -> None:
    assert mismatch("marathon", "marathon") is None
    assert mismatch("intruder", "marathon") is not None
    unnamed = mismatch("intruder", None)  # subscribed unauthenticated, now called by someone
    assert unnamed == "Authenticated principal 'intruder' does not match principal '' set in `FrameworkInfo`"
