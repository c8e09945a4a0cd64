"""Task states, their wire numbers, and the transition table.

Rule 1: a terminal state is final, with the exceptions kept from Mesos 1.5+: TASK_LOST and
TASK_GONE_BY_OPERATOR may return to a live state when the agent re-registers with the task still running.
Rule 2: TASK_STAGING is the master's and agent's initial state; executors may never report it.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    TASK_STAGING = "TASK_STAGING"
    TASK_STARTING = "TASK_STARTING"
    TASK_RUNNING = "TASK_RUNNING"
    TASK_KILLING = "TASK_KILLING"
    TASK_FINISHED = "TASK_FINISHED"
    TASK_FAILED = "TASK_FAILED"
    TASK_KILLED = "TASK_KILLED"
    TASK_ERROR = "TASK_ERROR"
    TASK_LOST = "TASK_LOST"
    TASK_DROPPED = "TASK_DROPPED"
    TASK_UNREACHABLE = "TASK_UNREACHABLE"
    TASK_GONE = "TASK_GONE"
    TASK_GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    TASK_UNKNOWN = "TASK_UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def number(self) -> int:
        return STATE_NUMBERS[self]

    @property
    def metric_name(self) -> str:
        """`TASK_GONE_BY_OPERATOR` -> `gone_by_operator`, as in `master/tasks_<name>`."""
        return self.value.removeprefix("TASK_").lower()


STATE_NUMBERS: dict[TaskState, int] = {
    TaskState.TASK_STARTING: 0,
    TaskState.TASK_RUNNING: 1,
    TaskState.TASK_FINISHED: 2,
    TaskState.TASK_FAILED: 3,
    TaskState.TASK_KILLED: 4,
    TaskState.TASK_LOST: 5,
    TaskState.TASK_STAGING: 6,
    TaskState.TASK_ERROR: 7,
    TaskState.TASK_KILLING: 8,
    TaskState.TASK_DROPPED: 9,
    TaskState.TASK_UNREACHABLE: 10,
    TaskState.TASK_GONE: 11,
    TaskState.TASK_GONE_BY_OPERATOR: 12,
    TaskState.TASK_UNKNOWN: 13,
}

TERMINAL_STATES: frozenset[TaskState] = frozenset(
    {
        TaskState.TASK_FINISHED,
        TaskState.TASK_FAILED,
        TaskState.TASK_KILLED,
        TaskState.TASK_ERROR,
        TaskState.TASK_LOST,
        TaskState.TASK_DROPPED,
        TaskState.TASK_GONE,
        # Terminal as upstream's isTerminalState counts it, though mesos.proto allows the operator erred.
        TaskState.TASK_GONE_BY_OPERATOR,
    }
)

_LIVE = frozenset(TaskState) - TERMINAL_STATES

# What may follow each state. A live state may move anywhere but back to STAGING; terminal states are final
# except LOST and GONE_BY_OPERATOR (rule 1). UNREACHABLE may resolve to any state once the agent is back.
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    **{state: frozenset(TaskState) - {TaskState.TASK_STAGING} for state in _LIVE},
    **{state: frozenset() for state in TERMINAL_STATES},
    TaskState.TASK_LOST: _LIVE - {TaskState.TASK_STAGING},
    TaskState.TASK_GONE_BY_OPERATOR: _LIVE - {TaskState.TASK_STAGING},
}


def can_transition(current: TaskState, new: TaskState) -> bool:
    return new == current or new in TRANSITIONS[current]


# Only frameworks with these capabilities see the finer partition states; others get TASK_LOST.
PARTITION_AWARE_ONLY: frozenset[TaskState] = frozenset(
    {
        TaskState.TASK_DROPPED,
        TaskState.TASK_UNREACHABLE,
        TaskState.TASK_GONE,
        TaskState.TASK_GONE_BY_OPERATOR,
        TaskState.TASK_UNKNOWN,
    }
)


def for_framework(state: TaskState, *, partition_aware: bool) -> TaskState:
    """The state a framework is told: partition-aware states collapse to TASK_LOST for older frameworks."""
    if not partition_aware and state in PARTITION_AWARE_ONLY:
        return TaskState.TASK_LOST
    return state
