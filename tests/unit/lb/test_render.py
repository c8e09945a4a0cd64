"""The rendered haproxy.cfg: marathon-lb's shape (marathon.md e.4), byte-for-byte deterministic.

The golden files under `golden/` are also checked by the real `haproxy -c` in
tests/integration/test_lb_haproxy.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from corral.lb.model import App
from corral.lb.render import render
from corral.lb.services import Options, plan_services

from .apps import app, decode, http_check, task

GOLDEN = Path(__file__).parent / "golden"
OPTIONS = Options(bind_address="127.0.0.1", stats_port=9090, http_port=8000, https_port=8443)


def tcp_apps() -> tuple[App, ...]:
    """Two TCP services: a database on a chosen port with leastconn, and a web app with a failing task."""
    db_labels = {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "15432", "HAPROXY_0_BALANCE": "leastconn"}
    return decode(
        app("/db", ports=(10002,), labels=db_labels, tasks=[task("db.1", host="10.0.0.2", ports=(31005,))]),
        app(
            "/web",
            ports=(10000,),
            tasks=[
                task("web.1", ports=(31001,)),
                task("web.2", ports=(31000,)),
                task("web.3", ports=(31002,), state="TASK_KILLING"),
            ],
        ),
        app("/internal", ports=(10001,), labels={"HAPROXY_GROUP": "internal"}),
    )


def http_apps() -> tuple[App, ...]:
    """Vhost routing with a path, sticky sessions, HSTS and the redirect to HTTPS, an HTTP health check
    (one task failing it), and an HTTP-mode service without a vhost."""
    shop = {
        "HAPROXY_GROUP": "external",
        "HAPROXY_0_VHOST": "shop.example.com,www.example.com",
        "HAPROXY_0_STICKY": "true",
        "HAPROXY_0_REDIRECT_TO_HTTPS": "true",
        "HAPROXY_0_USE_HSTS": "true",
    }
    api = {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "shop.example.com", "HAPROXY_0_PATH": "/api"}
    return decode(
        app(
            "/shop/web",
            ports=(10010,),
            labels=shop,
            checks=[http_check("/health")],
            tasks=[
                task("shop_web.1", ports=(31010,), alive=(True,)),
                task("shop_web.2", ports=(31011,), alive=(False,)),
            ],
        ),
        app("/shop/api", ports=(10011,), labels=api, tasks=[task("shop_api.1", ports=(31012,))]),
        app(
            "/admin",
            ports=(10012,),
            labels={"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http"},
            tasks=[task("admin.1", ports=(31013,))],
        ),
    )


def rendered(apps: tuple[App, ...], options: Options = OPTIONS) -> str:
    return render(plan_services(apps, options, {}), options)


def test_golden_tcp_services() -> None:
    assert rendered(tcp_apps()) == (GOLDEN / "tcp.cfg").read_text()


def test_golden_http_vhosts_with_https() -> None:
    options = Options(
        bind_address="127.0.0.1", http_port=8000, https_port=8443, ssl_certs=("/etc/ssl/shop.pem",)
    )
    assert rendered(http_apps(), options) == (GOLDEN / "http.cfg").read_text()


def test_golden_without_apps_is_the_stats_page_only() -> None:
    assert rendered(()) == (GOLDEN / "empty.cfg").read_text()


def test_the_same_apps_in_any_order_render_the_same_bytes() -> None:
    apps = tcp_apps() + http_apps()
    texts = {rendered(order) for order in itertools.permutations(apps)}
    assert len(texts) == 1


def test_a_task_turning_healthy_adds_its_server_line() -> None:
    def web(alive: bool) -> tuple[App, ...]:
        return decode(
            app(
                "/web",
                checks=[http_check()],
                tasks=[
                    task("web.1", ports=(31000,), alive=(True,)),
                    task("web.2", ports=(31001,), alive=(alive,)),
                ],
            )
        )

    before, after = rendered(web(False)), rendered(web(True))
    assert "127.0.0.1:31001" not in before and "127.0.0.1:31000" in before
    new = set(after.splitlines()) - set(before.splitlines())
    assert new == {"  server 127_0_0_1_31001 127.0.0.1:31001 id 17593 check inter 10s fall 4"}


def test_no_vhost_means_no_vhost_frontend_and_no_https_without_certificates() -> None:
    assert "marathon_http_in" not in rendered(tcp_apps())
    text = rendered(http_apps())
    assert "frontend marathon_http_in\n  bind 127.0.0.1:8000\n" in text
    assert "marathon_https_in" not in text


def test_a_wildcard_bind_address_leaves_the_stats_page_on_its_own_loopback_address() -> None:
    text = rendered(tcp_apps(), Options())
    assert "  bind 127.0.0.1:9090\n" in text and "  bind *:15432\n" in text
    assert "  bind *:9090\n" in rendered(tcp_apps(), Options(stats_address="*"))
