"""The job JSON (chronos.md b): defaults, JobSerializer's key order, Jackson's lenient reads, clear errors,
the name rule of each API prefix (chronos.md e), and round trips of every field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corral.chronos.container import Container, ContainerType, KeyValue, NetworkMode, Volume, VolumeMode
from corral.chronos.model import (
    ConcurrencyPolicy,
    Constraint,
    ConstraintOperator,
    EnvironmentVariable,
    Fetch,
    Job,
    JobDefaults,
    LastOutcome,
)
from corral.chronos.schedule import IsoSchedule, next_due, plan_launch
from corral.chronos.validation import NameRule, job_problems, name_problem
from corral.core.errors import DecodeError
from corral.protocol.json import JsonObject, JsonValue, dumps, loads

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

# What 3.0.2 returns after posting {"command":"echo 1","name":"myjob","owner":"","disabled":false,
# "schedule":"R0/2014-01-01T00:00:00Z/PT60M"} (chronos.md b, example payloads), then Corral's additions.
MYJOB_3_0_2: JsonObject = {
    "name": "myjob",
    "command": "echo 1",
    "shell": True,
    "executor": "",
    "executorFlags": "",
    "taskInfoData": "",
    "retries": 2,
    "owner": "",
    "ownerName": "",
    "description": "",
    "successCount": 0,
    "errorCount": 0,
    "lastSuccess": "",
    "lastError": "",
    "cpus": 0.1,
    "disk": 256.0,
    "mem": 128.0,
    "disabled": False,
    "softError": False,
    "dataProcessingJobType": False,
    "errorsSinceLastSuccess": 0,
    "fetch": [],
    "uris": [],
    "environmentVariables": [],
    "arguments": [],
    "highPriority": False,
    "runAsUser": "root",
    "concurrent": False,
    "maxCompletionTime": 0,  # upstream master (#881)
    "constraints": [],
    "schedule": "R0/2014-01-01T00:00:00Z/PT60M",
    "scheduleTimeZone": "",
    "async": False,
    "concurrencyPolicy": "FORBID",
}


def decode(obj: JsonObject, now: datetime | None = NOW) -> Job:
    return Job.from_json(obj, now=now)


def decode_error(obj: JsonObject) -> DecodeError:
    with pytest.raises(DecodeError) as e:
        decode(obj)
    return e.value


def test_a_minimal_job_gets_every_default_in_chronos_key_order() -> None:
    job = decode(
        {
            "command": "echo 1",
            "name": "myjob",
            "owner": "",
            "disabled": False,
            "schedule": "R0/2014-01-01T00:00:00Z/PT60M",
        }
    )
    out = job.to_json()
    assert out == MYJOB_3_0_2
    assert list(out) == list(MYJOB_3_0_2)


def test_the_docs_sample_job_keeps_its_epsilon_and_async() -> None:
    # chronos-sync-jobs.py re-posts a job whenever a key it posted is missing or different in GET output
    posted: JsonObject = {
        "schedule": "R10/2012-10-01T05:52:00Z/PT2S",
        "name": "SAMPLE_JOB1",
        "epsilon": "PT15M",
        "command": "echo 'FOO' >> /tmp/JOB1_OUT",
        "owner": "bob@airbnb.com",
        "async": False,
    }
    out = decode(posted).to_json()
    assert {k: out[k] for k in posted} == posted


def test_jepsens_job_reads_like_jackson_reads_it() -> None:
    # chronos.md h: "name" is a number, resources are tiny, the zone is "UTC"
    job = decode(
        {
            "name": 36,
            "command": "sleep 6",
            "schedule": "R5/2015-08-05T21:57:42.000Z/PT24S",
            "scheduleTimeZone": "UTC",
            "epsilon": "PT6S",
            "owner": "jepsen@jepsen.io",
            "mem": 1,
            "disk": 1,
            "cpus": 0.001,
            "async": False,
        }
    )
    assert (job.name, job.mem, job.disk, job.cpus) == ("36", 1.0, 1.0, 0.001)
    assert job.catch_up_window == timedelta(seconds=6)


def test_the_docker_example_sends_numbers_as_strings() -> None:
    job = decode(
        {
            "schedule": "R/2014-09-25T17:22:00Z/PT2M",
            "name": "dockerjob",
            "container": {
                "type": "DOCKER",
                "image": "libmesos/ubuntu",
                "network": "BRIDGE",
                "forcePullImage": True,
                "volumes": [{"containerPath": "/var/log/", "hostPath": "/logs/", "mode": "RW"}],
                "parameters": [{"key": "a-docker-option", "value": "xxx"}],
            },
            "cpus": "0.5",
            "mem": "512",
            "fetch": [],
            "command": "while sleep 10; do date =u %T; done",
        }
    )
    assert (job.cpus, job.mem) == (0.5, 512.0)
    assert job.container == Container(
        image="libmesos/ubuntu",
        type=ContainerType.DOCKER,
        network=NetworkMode.BRIDGE,
        force_pull_image=True,
        volumes=(Volume(container_path="/var/log/", host_path="/logs/", mode=VolumeMode.RW),),
        parameters=(KeyValue(key="a-docker-option", value="xxx"),),
    )


def test_zero_or_absent_resources_take_the_flags_defaults() -> None:
    defaults = JobDefaults(cpus=0.25, mem=64.0, disk=10.0, run_as_user="nobody")
    job = Job.from_json(
        {"name": "j", "schedule": "R/2026-01-01T00:00:00Z/PT1H", "cpus": 0}, defaults=defaults
    )
    assert (job.cpus, job.mem, job.disk, job.run_as_user) == (0.25, 64.0, 10.0, "nobody")


def test_a_dependent_job_has_parents_and_no_schedule() -> None:
    job = decode(
        {"name": "hostings_earnings_summary", "command": "x", "parents": ["a", "b", "a"], "retries": 2}
    )
    assert job.is_dependent
    assert job.parents == ("a", "b")  # a set upstream
    out = job.to_json()
    assert out["parents"] == ["a", "b"]
    assert "schedule" not in out
    assert "scheduleTimeZone" not in out


def test_a_job_with_neither_schedule_nor_parents_runs_once_now() -> None:
    job = decode({"name": "oneoff", "command": "true"})
    assert isinstance(job.schedule, IsoSchedule)
    assert job.schedule.text == "R1/2026-05-01T12:00:00.000Z/PT24H"  # 3.x DeserializeJob "schedule now"
    with pytest.raises(DecodeError, match=r"^schedule: a job needs a schedule or parents$"):
        decode({"name": "oneoff"}, now=None)


@pytest.mark.parametrize(
    ("obj", "path", "message"),
    [
        ({"schedule": "R/2026-01-01T00:00:00Z/PT1H"}, "name", "is required"),
        ({"name": "j", "schedule": "every hour"}, "schedule", "cannot parse schedule 'every hour'"),
        (
            {"name": "j", "schedule": "R/x/PT1H", "scheduleTimeZone": "Nowhere"},
            "scheduleTimeZone",
            "unknown time",
        ),
        ({"name": "j", "schedule": "R/2026-01-01T00:00:00Z/PT1H", "parents": ["a"]}, "schedule", "not both"),
        ({"name": "j", "parents": []}, "parents", "needs at least one parent"),
        ({"name": "j", "parents": ["a"], "uris": ["u1"], "fetch": [{"uri": "u2"}]}, "uris", "not both"),
        (
            {"name": "j", "parents": ["a"], "constraints": [["rack", "GROUP_BY", "1"]]},
            "constraints[0]",
            "unknown",
        ),
        (
            {"name": "j", "parents": ["a"], "constraints": [["host", "LIKE", "("]]},
            "constraints[0]",
            "regular",
        ),
        (
            {"name": "j", "parents": ["a"], "constraints": [["host", "EQUALS"]]},
            "constraints[0]",
            "expected [",
        ),
        ({"name": "j", "parents": ["a"], "container": {"type": "DOCKER"}}, "container.image", "is required"),
        (
            {"name": "j", "parents": ["a"], "container": {"image": "i", "network": "NAT"}},
            "container.network",
            "NAT",
        ),
        (
            {"name": "j", "parents": ["a"], "concurrent": True, "concurrencyPolicy": "FORBID"},
            "concurrencyPolicy",
            "",
        ),
        ({"name": "j", "parents": ["a"], "epsilon": "P1M"}, "epsilon", "no fixed length"),
        ({"name": "j", "parents": ["a"], "retries": "two"}, "retries", "expected a number"),
        ({"name": "j", "parents": ["a"], "lastSuccess": "yesterday"}, "lastSuccess", "ISO 8601"),
        (
            {"name": "j", "parents": ["a"], "environmentVariables": [{"value": "v"}]},
            "environmentVariables[0]",
            "",
        ),
    ],
)
def test_a_bad_job_is_an_error_naming_the_field(obj: JsonObject, path: str, message: str) -> None:
    error = decode_error(obj)
    assert error.path.startswith(path)
    assert message in error.problem


def test_fetch_and_uris_are_mirrored_and_get_output_posts_back() -> None:
    job = decode({"name": "j", "parents": ["a"], "uris": ["http://x/a.tgz"]})
    out = job.to_json()
    assert out["fetch"] == [{"uri": "http://x/a.tgz", "executable": False, "cache": False, "extract": True}]
    assert out["uris"] == ["http://x/a.tgz"]
    assert decode(out) == job


def test_concurrent_and_concurrency_policy_agree() -> None:
    assert (
        decode({"name": "j", "parents": ["a"], "concurrent": True}).concurrency_policy
        is ConcurrencyPolicy.ALLOW
    )
    replace_ = decode({"name": "j", "parents": ["a"], "concurrencyPolicy": "replace"})
    assert (replace_.concurrency_policy, replace_.concurrent) == (ConcurrencyPolicy.REPLACE, False)
    assert replace_.to_json()["concurrent"] is False


def test_the_catch_up_window_is_the_smaller_of_epsilon_and_the_starting_deadline() -> None:
    base: JsonObject = {"name": "j", "schedule": "R/2026-01-01T00:00:00Z/PT1H"}
    assert decode(base).catch_up_window is None  # 3.x: any age
    assert decode({**base, "epsilon": "PT60S", "startingDeadlineSeconds": 30}).catch_up_window == timedelta(
        seconds=30
    )
    assert decode({**base, "epsilon": "PT1M", "startingDeadlineSeconds": 900}).catch_up_window == timedelta(
        minutes=1
    )


def test_stats_fields_read_and_print_as_utc_with_milliseconds() -> None:
    job = decode(
        {
            "name": "j",
            "parents": ["a"],
            "lastSuccess": "2014-03-08T16:57:17.507Z",
            "lastError": "2014-03-08T17:57:17.507+01:00",
            "successCount": "3",
        }
    )
    out = job.to_json()
    assert (out["lastSuccess"], out["lastError"]) == ("2014-03-08T16:57:17.507Z", "2014-03-08T16:57:17.507Z")
    assert job.success_count == 3


def test_last_outcome_follows_the_later_of_success_and_error() -> None:
    fresh = decode({"name": "j", "parents": ["a"]})
    assert fresh.last_outcome is LastOutcome.FRESH
    failed = fresh.with_error(NOW)
    assert (failed.last_outcome, failed.error_count, failed.errors_since_last_success) == (
        LastOutcome.FAILURE,
        1,
        1,
    )
    succeeded = failed.with_success(NOW + timedelta(minutes=1))
    assert (succeeded.last_outcome, succeeded.success_count, succeeded.errors_since_last_success) == (
        LastOutcome.SUCCESS,
        1,
        0,
    )


@pytest.mark.parametrize(
    ("name", "v3", "legacy"),
    [
        ("daily-report.v2", True, False),  # dots: 3.x only
        ("job with spaces", False, True),  # spaces and '#': 2.x only
        ("build#7", False, True),
        ("under_score", True, True),
        ("", False, False),
        ("café", False, False),  # Java's \w is ASCII
    ],
)
def test_names_follow_the_rule_of_the_api_prefix(name: str, v3: bool, legacy: bool) -> None:
    assert (name_problem(name, NameRule.V3) is None) == v3
    assert (name_problem(name, NameRule.LEGACY) is None) == legacy


def test_job_problems_are_values_naming_the_field() -> None:
    job = Job(name="bad name", parents=("bad name",), retries=-1, cpus=-1.0, starting_deadline_seconds=0)
    assert [str(p).split(":")[0] for p in job_problems(job)] == [
        "name",
        "retries",
        "cpus",
        "startingDeadlineSeconds",
        "parents",
    ]


def test_a_replaced_job_keeps_a_name_the_new_rule_would_refuse() -> None:
    # Chronos checks the name only on create (chronos.md a, endpoint 1)
    assert job_problems(Job(name="job with spaces", parents=("a",)), rule=None) == ()


def test_a_rewritten_month_end_schedule_survives_a_store_round_trip() -> None:
    job = decode({"name": "monthly", "schedule": "R/2026-01-31T00:00:00Z/P1M"})
    assert job.schedule is not None
    plan = plan_launch(job.schedule, now=datetime(2026, 1, 31, 0, 0, 5, tzinfo=UTC))
    stored = loads(dumps(Job(name=job.name, schedule=plan.schedule).to_json()))
    assert isinstance(stored, dict)
    assert stored["schedule"] == "R/2026-02-28T00:00:00.000Z/P1M"
    assert stored["scheduleOrigin"] == "2026-01-31T00:00:00"
    restored = decode(stored)
    assert restored.schedule is not None
    assert next_due(restored.schedule, datetime(2026, 2, 28, 1, tzinfo=UTC)) == datetime(
        2026, 3, 31, tzinfo=UTC
    )


# ---------------------------------------------------------------- round trips

texts = st.text(st.characters(codec="utf-8"), max_size=12)
names = st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)
moments = st.none() | st.integers(0, 2_000_000_000_000).map(lambda ms: datetime.fromtimestamp(ms / 1000, UTC))


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    dependent = draw(st.booleans())
    fields: JsonObject = {
        "name": draw(names),
        "command": draw(texts),
        "shell": draw(st.booleans()),
        "retries": draw(st.integers(0, 10)),
        "owner": draw(texts),
        "description": draw(texts),
        "successCount": draw(st.integers(0, 10**6)),
        "errorCount": draw(st.integers(0, 10**6)),
        "cpus": draw(st.sampled_from([0.1, 0.5, 2.0])),
        "mem": draw(st.sampled_from([32.0, 128.0])),
        "disabled": draw(st.booleans()),
        "softError": draw(st.booleans()),
        "fetch": [{"uri": u, "cache": True} for u in draw(st.lists(names, max_size=2))],
        "environmentVariables": [
            {"name": n, "value": v} for n, v in draw(st.lists(st.tuples(names, texts), max_size=2))
        ],
        "arguments": list[JsonValue](draw(st.lists(texts, max_size=3))),
        "concurrencyPolicy": draw(st.sampled_from(["ALLOW", "FORBID", "REPLACE"])),
        "maxCompletionTime": draw(st.integers(0, 3600)),
        "constraints": [[a, "LIKE", "rack-[0-9]"] for a in draw(st.lists(names, max_size=2))],
    }
    for key, moment in (("lastSuccess", draw(moments)), ("lastError", draw(moments))):
        if moment is not None:
            fields[key] = moment.isoformat(timespec="milliseconds")
    if dependent:
        fields["parents"] = list[JsonValue](draw(st.lists(names, min_size=1, max_size=3)))
    else:
        fields["schedule"] = draw(
            st.sampled_from(["R/2026-01-01T00:00:00Z/PT1H", "R3/2026-01-31T02:30:00Z/P1M", "0 3 * * *"])
        )
        fields["scheduleTimeZone"] = draw(st.sampled_from(["", "Europe/Paris", "America/New_York"]))
        if draw(st.booleans()):
            fields["epsilon"] = "PT30S"
    if draw(st.booleans()):
        fields["container"] = {"type": "MESOS", "image": draw(names), "volumes": [{"containerPath": "/data"}]}
    return decode(fields)


@settings(max_examples=100, deadline=None)
@given(job=jobs())
def test_every_job_survives_json_both_ways(job: Job) -> None:
    encoded = loads(dumps(job.to_json()))
    assert Job.from_json(encoded) == job
    assert isinstance(encoded, dict)
    assert Job.from_json(encoded).to_json() == encoded


def test_a_fully_specified_job_round_trips() -> None:
    job = Job(
        name="full",
        command="run",
        shell=False,
        arguments=("--day", "today"),
        fetch=(Fetch(uri="http://x/a.tgz", executable=True, output_file="a"),),
        environment_variables=(EnvironmentVariable(name="A", value="1"),),
        constraints=(Constraint(attribute="rack", operator=ConstraintOperator.UNLIKE, value="r1"),),
        container=Container(image="busybox", parameters=(KeyValue(key="privileged", value="true"),)),
        concurrency_policy=ConcurrencyPolicy.REPLACE,
        starting_deadline_seconds=60,
        max_completion_time=600,
        parents=("p",),
        last_success=NOW,
    )
    assert Job.from_json(loads(dumps(job.to_json()))) == job
