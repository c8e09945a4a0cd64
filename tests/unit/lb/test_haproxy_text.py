"""What HAProxy 2.6 prints: `show proc` on the master CLI, and bind failures (samples from haproxy 2.6.12)."""

from __future__ import annotations

from corral.lb.haproxy_text import ProcStatus, parse_show_proc, unbindable_frontends

AFTER_A_RELOAD = """\
#<PID>          <type>          <reloads>       <uptime>        <version>
25887           master          1 [failed: 0]   0d00h10m06s     2.6.12-1+deb12u4
# workers
16613           worker          0               0d00h00m00s     2.6.12-1+deb12u4
# old workers
25890           worker          1               0d00h10m06s     2.6.12-1+deb12u4
# programs

"""
AFTER_A_FAILED_RELOAD = """\
#<PID>          <type>          <reloads>       <uptime>        <version>
2026            master          2 [failed: 1]   0d00h00m13s     2.6.12-1+deb12u4
# workers
2135            worker          1               0d00h00m11s     2.6.12-1+deb12u4
# programs
"""


def test_show_proc_gives_the_reload_counts_and_the_newest_workers() -> None:
    assert parse_show_proc(AFTER_A_RELOAD) == ProcStatus(
        reloads=1, failed_reloads=0, workers=frozenset({16613})
    )


def test_after_a_failed_reload_the_old_worker_serves_and_none_is_new() -> None:
    assert parse_show_proc(AFTER_A_FAILED_RELOAD) == ProcStatus(
        reloads=2, failed_reloads=1, workers=frozenset()
    )


def test_no_master_line_is_no_status() -> None:
    assert parse_show_proc("") is None
    assert parse_show_proc("Unknown command\n") is None


def test_bind_failures_name_their_frontends() -> None:
    lines = [
        "[NOTICE]   (2026) : Reloading HAProxy",
        "[ALERT]    (2026) : Binding [live.cfg:17] for frontend web_10000: cannot bind socket "
        "(Address already in use) for [127.0.0.1:19777]",
        "[ALERT]    (2026) : Binding [live.cfg:30] for frontend marathon_http_in: cannot bind socket "
        "(Permission denied) for [0.0.0.0:80]",
        "[ALERT]    (2026) : [haproxy.main()] Some protocols failed to start their listeners! Exiting.",
        "[WARNING]  (2026) : Loading failure!",
    ]
    assert unbindable_frontends(lines) == {"web_10000", "marathon_http_in"}
    assert unbindable_frontends(lines[:1]) == frozenset()
