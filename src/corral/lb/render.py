"""The HAProxy configuration for a plan, in marathon-lb's shape (marathon.md e.4), for HAProxy 2.6.

Byte-for-byte deterministic: the text depends only on the plan and the options (services and servers come
sorted from `services.py`, vhost rules are sorted here), never on time or on the order Marathon listed
anything in, so "the config changed" is a string comparison and a reload happens only when it did.

Sections: `global` and `defaults`; `listen stats` (the stats page, `/metrics` for Prometheus and
`/_haproxy_health_check`) on the stats address, loopback by default since they name every task;
`marathon_http_in` on the HTTP port and, given certificates, `marathon_https_in` on the HTTPS port, routing
`HAPROXY_{n}_VHOST` (and `_PATH`) to backends, only when some service has a vhost; then a frontend and a
backend per service. A backend with no healthy task has no server: HAProxy answers 503 (HTTP) or closes the
connection (TCP) at once rather than waiting on a dead address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from corral.lb.labels import Mode
from corral.lb.model import HealthCheck
from corral.lb.services import HTTP_FRONTEND, HTTPS_FRONTEND, Options, Plan, Service

HEADER = "# Written by corral lb from Marathon's apps and tasks; rewritten on every change: do not edit."
# maxconn sizes HAProxy's file-descriptor needs (about 2 x maxconn): 4096 fits a default 8-16k `ulimit -n`
# where marathon-lb's 50000 would make HAProxy refuse to start.
HEAD = """\
global
  maxconn 4096

defaults
  retries 3
  backlog 10000
  timeout connect 3s
  timeout client 30s
  timeout server 30s
  timeout tunnel 3600s
  timeout http-keep-alive 1s
  timeout http-request 15s
  timeout queue 30s
  option redispatch
  option http-server-close
  option dontlognull
"""
STICKY_COOKIE = "mesosphere_server_id"
HSTS = "max-age=15768000"
_UNSAFE = re.compile(r"[^A-Za-z0-9]")


def bind(address: str, port: int) -> str:
    return f"{address}:{port}"


def _acl_name(host: str) -> str:
    return "host_" + _UNSAFE.sub("_", host)


def _stats(options: Options) -> list[str]:
    return [
        "listen stats",
        f"  bind {bind(options.stats_address, options.stats_port)}",
        "  mode http",
        "  stats enable",
        "  stats uri /haproxy?stats",
        "  stats refresh 5s",
        "  monitor-uri /_haproxy_health_check",
        "  http-request use-service prometheus-exporter if { path /metrics }",
    ]


def _vhost_rules(services: Iterable[Service], *, https: bool) -> list[str]:
    """ACLs then routing rules; a rule with a path comes before its host's catch-all (longest path first).
    HTTP matches the Host header (without a port); HTTPS matches the TLS SNI name."""
    routed = [(s, host) for s in services for host in s.settings.vhosts]
    lines = [] if https else sorted({f"  acl {_acl_name(h)} hdr(host),field(1,:) -i {h}" for _, h in routed})
    lines += [f"  acl path_{s.name} path_beg {s.settings.path}" for s in services if s.settings.path]
    if not https:
        lines += [
            f"  redirect scheme https code 301 if !{{ ssl_fc }} {_acl_name(h)}"
            for h in sorted({h for s, h in routed if s.settings.redirect_to_https})
        ]
    ordered = sorted(routed, key=lambda r: (-len(r[0].settings.path or ""), r[1], r[0].name))
    for service, host in ordered:
        match = f"{{ ssl_fc_sni -i {host} }}" if https else _acl_name(host)
        path = f" path_{service.name}" if service.settings.path else ""
        lines.append(f"  use_backend {service.name} if {match}{path}")
    return lines


def _vhost_frontends(plan: Plan, options: Options) -> list[str]:
    if not plan.has_vhosts:
        return []
    routed = [s for s in plan.services if s.settings.vhosts]
    lines = [f"frontend {HTTP_FRONTEND}", f"  bind {bind(options.bind_address, options.http_port)}"]
    lines += ["  mode http", *_vhost_rules(routed, https=False), ""]
    if options.ssl_certs:
        certs = " ".join(f"crt {c}" for c in options.ssl_certs)
        lines += [f"frontend {HTTPS_FRONTEND}"]
        lines += [f"  bind {bind(options.bind_address, options.https_port)} ssl {certs}", "  mode http"]
        lines += [*_vhost_rules(routed, https=True), ""]
    return lines


def _frontend(service: Service) -> list[str]:
    ssl = f" ssl crt {service.settings.ssl_cert}" if service.settings.ssl_cert else ""
    return [
        f"frontend {service.name}",
        f"  bind {bind(service.bind_address, service.bind_port)}{ssl}",
        f"  mode {service.settings.mode}",
        f"  use_backend {service.name}",
    ]


def _checked(check: HealthCheck | None) -> HealthCheck | None:
    """The check HAProxy runs itself too (marathon-lb's defaults): Marathon's HTTP(S) and TCP checks."""
    if check is None or check.protocol.removeprefix("MESOS_") not in ("HTTP", "HTTPS", "TCP"):
        return None
    return check


def _backend(service: Service) -> list[str]:
    settings, check = service.settings, _checked(service.health_check)
    lines = [f"backend {service.name}", f"  balance {settings.balance}", f"  mode {settings.mode}"]
    if settings.mode is Mode.HTTP:
        lines += [
            "  option forwardfor",
            "  http-request set-header X-Forwarded-Port %[dst_port]",
            "  http-request add-header X-Forwarded-Proto https if { ssl_fc }",
        ]
        if settings.sticky:
            lines.append(f"  cookie {STICKY_COOKIE} insert indirect nocache")
        if settings.use_hsts:
            lines.append(f"  http-response set-header Strict-Transport-Security {HSTS}")
        if check is not None and check.protocol.removeprefix("MESOS_") == "HTTP":
            lines.append(f"  option httpchk GET {check.path}")
    checking = ""
    if check is not None:
        lines.append(f"  timeout check {check.timeout_seconds}s")
        checking = f" check inter {check.interval_seconds}s fall {check.max_consecutive_failures + 1}"
    for server in service.servers:
        cookie = f" cookie {server.name}" if settings.sticky else ""
        address = bind(server.address, server.port)
        lines.append(f"  server {server.name} {address} id {server.id}{cookie}{checking}")
    return lines


def render(plan: Plan, options: Options) -> str:
    """The whole haproxy.cfg."""
    lines = [HEADER, HEAD.rstrip("\n"), "", *_stats(options), "", *_vhost_frontends(plan, options)]
    for service in plan.services:
        lines += [*_frontend(service), "", *_backend(service), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
