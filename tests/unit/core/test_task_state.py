"""Task states: wire numbers and terminal flags from mesos.md a.9, the transition table (rule 1 of
`core/task_state.py`: terminal is final except TASK_LOST), and the collapsing of partition-aware states to
TASK_LOST for frameworks without PARTITION_AWARE (mesos.md a.9 "PA only", a.10 reconciliation).
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.task_state import (
    STATE_NUMBERS,
    TERMINAL_STATES,
    TRANSITIONS,
    TaskState,
    can_transition,
    for_framework,
)

S = TaskState
states = st.sampled_from(list(TaskState))

# mesos.md a.9, "TaskState (enum numbers; T = terminal)", row by row, except that GONE_BY_OPERATOR is terminal
# as upstream's `isTerminalState` (src/common/protobuf_utils.cpp) counts it; a.9's table leaves it unmarked.
A9_TABLE: list[tuple[TaskState, int, bool]] = [
    (S.TASK_STAGING, 6, False),
    (S.TASK_STARTING, 0, False),
    (S.TASK_RUNNING, 1, False),
    (S.TASK_KILLING, 8, False),
    (S.TASK_FINISHED, 2, True),
    (S.TASK_FAILED, 3, True),
    (S.TASK_KILLED, 4, True),
    (S.TASK_ERROR, 7, True),
    (S.TASK_LOST, 5, True),
    (S.TASK_DROPPED, 9, True),
    (S.TASK_UNREACHABLE, 10, False),
    (S.TASK_GONE, 11, True),
    (S.TASK_GONE_BY_OPERATOR, 12, True),
    (S.TASK_UNKNOWN, 13, False),
]


@pytest.mark.parametrize(("state", "number", "terminal"), A9_TABLE)
def test_number_and_terminal_flag_match_mesos(state: TaskState, number: int, terminal: bool) -> None:
    assert state.number == number
    assert state.is_terminal is terminal


def test_every_state_has_a_distinct_number_and_the_table_is_complete() -> None:
    assert {s for s, _, _ in A9_TABLE} == set(TaskState) == set(STATE_NUMBERS)
    assert sorted(STATE_NUMBERS.values()) == list(range(14))
    assert {s for s, _, t in A9_TABLE if t} == TERMINAL_STATES


def test_state_names_are_the_wire_names() -> None:
    assert S("TASK_RUNNING") is S.TASK_RUNNING
    assert str(S.TASK_GONE_BY_OPERATOR) == "TASK_GONE_BY_OPERATOR"
    assert S.TASK_GONE_BY_OPERATOR.metric_name == "gone_by_operator"
    assert S.TASK_RUNNING.metric_name == "running"


def test_a_command_task_runs_to_completion() -> None:
    path = [S.TASK_STAGING, S.TASK_STARTING, S.TASK_RUNNING, S.TASK_KILLING, S.TASK_KILLED]
    assert all(can_transition(a, b) for a, b in pairwise(path))


def test_a_task_on_a_partitioned_agent_may_come_back_from_lost() -> None:
    # mesos.md a.9: TASK_LOST "can revert to RUNNING if a partitioned agent comes back"
    assert can_transition(S.TASK_LOST, S.TASK_RUNNING)
    assert can_transition(S.TASK_UNREACHABLE, S.TASK_RUNNING)
    assert not can_transition(S.TASK_LOST, S.TASK_STAGING)
    assert not can_transition(S.TASK_LOST, S.TASK_FINISHED)


@given(states, states)
def test_transition_table_matches_the_rules(current: TaskState, new: TaskState) -> None:
    if new == current:
        expected = True  # a repeated update (a retry) is never a violation
    elif current in (S.TASK_LOST, S.TASK_GONE_BY_OPERATOR):
        expected = not new.is_terminal and new != S.TASK_STAGING
    elif current.is_terminal:
        expected = False
    else:
        expected = new != S.TASK_STAGING  # rule 2: nothing goes back to STAGING
    assert can_transition(current, new) is expected


def test_transition_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(TaskState)
    assert all(S.TASK_STAGING not in targets for targets in TRANSITIONS.values())


@pytest.mark.parametrize(
    "state",
    [S.TASK_DROPPED, S.TASK_UNREACHABLE, S.TASK_GONE, S.TASK_GONE_BY_OPERATOR, S.TASK_UNKNOWN],
)
def test_partition_aware_states_become_lost_for_older_frameworks(state: TaskState) -> None:
    assert for_framework(state, partition_aware=False) is S.TASK_LOST
    assert for_framework(state, partition_aware=True) is state


@given(states)
def test_other_states_are_told_as_they_are(state: TaskState) -> None:
    told = for_framework(state, partition_aware=False)
    # mesos.md a.9 marks DROPPED..UNKNOWN "PA only"; everything else reaches every framework unchanged
    assert told == (S.TASK_LOST if STATE_NUMBERS[state] >= 9 else state)
    assert for_framework(state, partition_aware=True) == state
