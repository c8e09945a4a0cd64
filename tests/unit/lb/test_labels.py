"""marathon-lb's labels per service port (marathon.md e.3): defaults, the HTTP mode rule, clear errors."""

from __future__ import annotations

import pytest

from corral.lb.labels import LabelErrors, Mode, PortSettings, port_settings, unsupported


def settings(labels: dict[str, str], index: int = 0, *, http_check: bool = False) -> PortSettings:
    result = port_settings(labels, index, http_check=http_check)
    assert isinstance(result, PortSettings), result
    return result


def errors(labels: dict[str, str], index: int = 0) -> tuple[str, ...]:
    result = port_settings(labels, index, http_check=False)
    assert isinstance(result, LabelErrors), result
    return result.messages


def test_defaults_are_marathon_lbs() -> None:
    assert settings({}) == PortSettings(
        groups=frozenset(), enabled=True, mode=Mode.TCP, balance="roundrobin", sticky=False
    )


def test_the_port_group_overrides_the_app_group() -> None:
    labels = {"HAPROXY_GROUP": "internal, external", "HAPROXY_1_GROUP": "edge"}
    assert settings(labels, 0).groups == {"internal", "external"}
    assert settings(labels, 1).groups == {"edge"}


def test_a_vhost_or_an_http_health_check_makes_the_port_http() -> None:
    assert settings({"HAPROXY_0_VHOST": "Shop.Example.com, www.example.com"}).vhosts == (
        "shop.example.com",
        "www.example.com",
    )
    assert settings({"HAPROXY_0_VHOST": "shop.example.com"}).mode is Mode.HTTP
    assert settings({}, http_check=True).mode is Mode.HTTP
    assert settings({"HAPROXY_0_MODE": "http"}).mode is Mode.HTTP
    assert settings({"HAPROXY_0_MODE": "TCP"}, http_check=True).mode is Mode.TCP  # the label wins


def test_every_supported_label_is_read() -> None:
    labels = {
        "HAPROXY_0_VHOST": "shop.example.com",
        "HAPROXY_0_PATH": "/api/v1",
        "HAPROXY_0_PORT": "8081",
        "HAPROXY_0_BIND_ADDR": "10.0.0.42",
        "HAPROXY_0_BALANCE": "leastconn",
        "HAPROXY_0_STICKY": "true",
        "HAPROXY_0_REDIRECT_TO_HTTPS": "True",
        "HAPROXY_0_USE_HSTS": "true",
        "HAPROXY_0_SSL_CERT": "/etc/ssl/shop.pem",
        "HAPROXY_0_ENABLED": "true",
    }
    assert settings(labels) == PortSettings(
        vhosts=("shop.example.com",),
        path="/api/v1",
        mode=Mode.HTTP,
        port=8081,
        bind_address="10.0.0.42",
        balance="leastconn",
        sticky=True,
        redirect_to_https=True,
        use_hsts=True,
        ssl_cert="/etc/ssl/shop.pem",
    )
    assert settings({"HAPROXY_0_ENABLED": "false"}).enabled is False


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"HAPROXY_0_PORT": "http"}, "HAPROXY_0_PORT='http': expected a port number between 1 and 65535"),
        ({"HAPROXY_0_PORT": "70000"}, "HAPROXY_0_PORT='70000': expected a port number between 1 and 65535"),
        ({"HAPROXY_0_MODE": "udp"}, "HAPROXY_0_MODE='udp': expected one of tcp, http"),
        ({"HAPROXY_0_STICKY": "yes"}, "HAPROXY_0_STICKY='yes': expected true or false"),
        ({"HAPROXY_0_BIND_ADDR": "eth0"}, "HAPROXY_0_BIND_ADDR='eth0': expected an IP address or *"),
        ({"HAPROXY_GROUP": "a b"}, "HAPROXY_GROUP='a b': expected a comma-separated list of group names"),
        (
            {"HAPROXY_0_BALANCE": "hdr(host)"},
            "HAPROXY_0_BALANCE='hdr(host)': expected one of "
            "roundrobin, static-rr, leastconn, first, source, random, uri",
        ),
    ],
)
def test_a_bad_value_names_the_label_and_what_it_should_be(labels: dict[str, str], message: str) -> None:
    assert errors(labels) == (message,)


@pytest.mark.parametrize(
    "labels",
    [
        {"HAPROXY_0_VHOST": "shop.example.com\n  use_backend evil"},
        {"HAPROXY_0_VHOST": "shop.example.com #"},
        {"HAPROXY_0_VHOST": "shop.example.com", "HAPROXY_0_PATH": "/api if TRUE"},
        {"HAPROXY_0_VHOST": "shop.example.com", "HAPROXY_0_PATH": "/api\nlisten x"},
        {"HAPROXY_0_SSL_CERT": "/etc/ssl/a.pem\n  bind *:1"},
    ],
)
def test_values_cannot_inject_haproxy_directives(labels: dict[str, str]) -> None:
    assert len(errors(labels)) == 1


def test_http_only_settings_on_a_tcp_port_are_errors_all_reported_at_once() -> None:
    labels = {
        "HAPROXY_1_MODE": "tcp",
        "HAPROXY_1_VHOST": "a.example.com",
        "HAPROXY_1_STICKY": "true",
        "HAPROXY_1_PORT": "0",
    }
    assert errors(labels, 1) == (
        "HAPROXY_1_PORT='0': expected a port number between 1 and 65535",
        "HAPROXY_1_VHOST needs HTTP mode, but HAPROXY_1_MODE is tcp",
        "HAPROXY_1_STICKY needs HTTP mode, but HAPROXY_1_MODE is tcp",
    )
    assert errors({"HAPROXY_0_STICKY": "true"}) == (
        "HAPROXY_0_STICKY needs HTTP mode, but HAPROXY_0_MODE is tcp",
    )


def test_the_redirect_to_https_and_a_path_need_a_vhost() -> None:
    labels = {"HAPROXY_0_MODE": "http", "HAPROXY_0_REDIRECT_TO_HTTPS": "true", "HAPROXY_0_PATH": "/a"}
    assert errors(labels) == (
        "HAPROXY_0_REDIRECT_TO_HTTPS needs HAPROXY_0_VHOST",
        "HAPROXY_0_PATH needs HAPROXY_0_VHOST",
    )


def test_labels_of_other_ports_do_not_matter() -> None:
    assert settings({"HAPROXY_1_PORT": "nope"}, 0) == PortSettings()


def test_template_overrides_and_deployment_groups_are_reported_unsupported() -> None:
    labels = {
        "HAPROXY_GROUP": "external",
        "HAPROXY_0_VHOST": "a.example.com",
        "HAPROXY_0_BACKEND_HEAD": "backend x",
        "HAPROXY_DEPLOYMENT_GROUP": "shop",
        "HAPROXY_HEAD": "global",
        "OTHER": "x",
    }
    assert unsupported(labels) == ("HAPROXY_0_BACKEND_HEAD", "HAPROXY_DEPLOYMENT_GROUP", "HAPROXY_HEAD")
