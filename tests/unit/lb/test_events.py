"""`/v2/events` framing (marathon.md a.7) and which events make the load balancer re-read the apps."""

from __future__ import annotations

from corral.lb.events import EVENT_TYPES, EventParser, is_relevant


def feed(parser: EventParser, text: str) -> list[str]:
    """Split like `aiter_lines` does (CRLF or LF, endings removed) and collect the events."""
    return [e for line in text.splitlines() if (e := parser.feed(line)) is not None]


def test_marathon_frames_with_crlf_and_heartbeats() -> None:
    stream = (
        "\r\n"  # a heartbeat
        "event: status_update_event\r\n"
        'data: {"eventType":"status_update_event","taskStatus":"TASK_RUNNING"}\r\n\r\n'
        "\r\n"
        'event: deployment_success\r\ndata: {"eventType":"deployment_success"}\r\n\r\n'
    )
    assert feed(EventParser(), stream) == ["status_update_event", "deployment_success"]


def test_the_type_comes_from_the_data_when_there_is_no_event_field() -> None:
    parser = EventParser()
    assert feed(parser, 'data: {"eventType":"health_status_changed_event","alive":true}\n\n') == [
        "health_status_changed_event"
    ]
    assert feed(parser, "data: not json\n\n: a comment\n\n") == []


def test_an_event_split_across_reads_is_one_event() -> None:
    parser = EventParser()
    assert parser.feed("event: api_post_event") is None
    assert parser.feed('data: {"eventType":"api_post_event"}') is None
    assert parser.feed("") == "api_post_event"


def test_relevant_events_are_marathon_lbs_and_those_that_change_tasks_or_apps() -> None:
    for kind in ("api_post_event", "status_update_event", "health_status_changed_event"):
        assert kind in EVENT_TYPES and is_relevant(kind)
    assert is_relevant("app_terminated_event") and is_relevant("deployment_success")
    assert not is_relevant("event_stream_attached")
    assert not is_relevant("framework_message_event")
