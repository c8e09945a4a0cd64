"""`corral marathon --http_credentials` as a process beside a `corral dev` master (reliability-security.md
4.1 Marathon and marathon-lb, 4.3 items 1, 14 and 16): the PyPI `marathon` client works with
`username=`/`password=` and gets 401 without them or with a wrong password; `/ping` and the UI stay open,
everything else (the event stream included) asks for Basic, a bearer token or the login cookie; the
framework presents `--mesos_authentication_*` to its master; `corral lb --auth_credentials` serves an app
of the authenticated Marathon through a real HAProxy; no secret shows in a log or `/v2/info`.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.framework_auth import (
    MESOS_SECRET,
    PASSWORD,
    USER,
    assert_no_secret,
    basic,
    dev_master,
    presenting_secret,
    running_framework,
)
from support.marathon_client import MarathonApp, MarathonClient

from corral.lb.haproxy import find_binary
from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import HOST, DevProcess, free_ports, wait_for

pytestmark = pytest.mark.integration

FRAMEWORK = "marathon-auth"
HTTP_SERVER = f"exec {shlex.quote(sys.executable)} -m http.server $PORT0 --bind {HOST}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("marathon-auth")


@pytest.fixture(scope="module")
def dev(root: Path) -> Iterator[DevProcess]:
    ports = ",".join(f"{p}-{p}" for p in sorted(free_ports(4)))
    with dev_master(root, f"cpus:8;mem:8192;disk:10000;ports:[{ports}]") as process:
        yield process


@pytest.fixture(scope="module")
def marathon(dev: DevProcess, root: Path) -> Iterator[Daemon]:
    with running_framework("marathon", FRAMEWORK, dev.master, root) as daemon:
        yield daemon


@pytest.fixture
def client(marathon: Daemon, dev: DevProcess) -> Iterator[Any]:
    """The PyPI client with the credentials; every app it leaves is deleted and its tasks waited out."""
    authorized = MarathonClient(marathon.url, username=USER, password=PASSWORD)
    yield authorized
    for app in authorized.list_apps():
        authorized.delete_app(app.id, force=True)
    wait_for(lambda: not framework_tasks(dev), timeout=20, what="the apps' tasks to be killed")


def framework_tasks(dev: DevProcess) -> list[Any]:
    frameworks: list[dict[str, Any]] = dev.state()["frameworks"]  # type: ignore[assignment]
    return [t for f in frameworks if f.get("name") == FRAMEWORK for t in f.get("tasks", [])]


def test_the_marathon_client_works_with_credentials_and_gets_401_without(
    marathon: Daemon, client: Any
) -> None:
    from marathon.exceptions import MarathonHttpError  # after support.marathon_client's 3.11 shim

    client.create_app("hello", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=1))
    version = client.get_app("hello").version
    for anonymous in (
        MarathonClient(marathon.url),
        MarathonClient(marathon.url, username=USER, password="x"),
    ):
        with pytest.raises(MarathonHttpError) as refused:
            anonymous.list_apps()
        assert refused.value.status_code == 401
        with pytest.raises(MarathonHttpError):
            anonymous.create_app("intruder", MarathonApp(cmd="true", cpus=0.1, mem=16, instances=1))
        with pytest.raises(MarathonHttpError):
            anonymous.scale_app("hello", instances=3)
        with pytest.raises(MarathonHttpError):
            anonymous.delete_app("hello", force=True)
    assert [app.id for app in client.list_apps()] == ["/hello"]
    assert client.get_app("hello").version == version
    wait_for(lambda: client.get_app("hello").tasks_running == 1, timeout=20, what="the app's task to run")


def test_only_ping_and_the_ui_answer_without_credentials(marathon: Daemon) -> None:
    with httpx.Client(base_url=marathon.url, timeout=5.0, trust_env=False) as http:
        assert http.get("/ping").text == "pong"
        assert http.get("/").status_code == 200 and http.get("/ui/base.css").status_code == 200
        for path in ("/v2/info", "/v2/apps", "/v2/leader", "/metrics", "/openapi.json"):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == 'Basic realm="Mesosphere"'
        events = {"Accept": "text/event-stream"}
        with http.stream("GET", "/v2/events", headers=events) as stream:
            assert stream.status_code == 401
        with http.stream("GET", "/v2/events", headers={**events, **basic()}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        info = http.get("/v2/info", headers=basic())
        assert info.status_code == 200 and info.json()["frameworkId"] is not None
        assert_no_secret(info.text, "/v2/info")


def test_a_login_gives_a_token_and_a_cookie_that_stand_for_the_password(marathon: Daemon) -> None:
    with httpx.Client(base_url=marathon.url, timeout=5.0, trust_env=False) as http:
        assert http.post("/login", headers=basic(password="wrong")).status_code == 401
        login = http.post("/login", headers=basic())
        assert login.status_code == 200 and login.json()["principal"] == USER
        bearer = {"Authorization": f"Bearer {login.json()['token']}"}
        assert_no_secret(login.text + str(login.headers), "the login answer")
        assert http.get("/v2/apps").status_code == 200  # the cookie the login set
        assert http.post("/logout").status_code == 200
        assert http.get("/v2/apps").status_code == 401
        assert http.get("/v2/apps", headers=bearer).status_code == 200
        assert http.get("/v2/apps", headers={"Authorization": "Bearer forged"}).status_code == 401


def test_the_framework_presents_its_principal_and_secret_to_the_master(tmp_path: Path) -> None:
    principal = "marathon-principal"
    with presenting_secret("marathon", principal, tmp_path, "--mesos_authentication") as (daemon, first):
        assert first.authorization == basic(principal, MESOS_SECRET)["Authorization"]
        assert first.framework_info["principal"] == principal
        assert daemon.get("/v2/info").status_code == 401
        info = httpx.get(f"{daemon.url}/v2/info", headers=basic(), timeout=5, trust_env=False)
    assert_no_secret(info.text, "/v2/info")


# ------------------------------------------------------------------ corral lb against it


def start_lb(marathon: Daemon, root: Path, name: str, *extra: str) -> Daemon:
    binary = find_binary()
    assert binary is not None, "haproxy is not installed: run scripts/install-system-deps.sh"
    [stats_port] = free_ports(1)
    args = ["--marathon", marathon.address, "--haproxy_config", str(root / name / "haproxy.cfg")]
    args += ["--bind_address", HOST, "--stats_port", str(stats_port), "--haproxy", binary, *extra]
    daemon = start_daemon(name, "lb", args, address=f"{HOST}:{stats_port}", log_dir=root)
    daemon.wait_answering("/_haproxy_health_check")
    return daemon


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://{HOST}:{port}/", timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_load_balancer_serves_the_apps_of_an_authenticated_marathon(
    marathon: Daemon, client: Any, tmp_path: Path
) -> None:
    [service_port] = free_ports(1)
    lb = start_lb(marathon, tmp_path, "lb-auth", "--auth_credentials", f"{USER}:{PASSWORD}")
    anonymous = start_lb(marathon, tmp_path, "lb-anonymous")
    try:
        app = MarathonApp(
            cmd=HTTP_SERVER,
            cpus=0.1,
            mem=32,
            instances=1,
            port_definitions=[{"port": service_port}],
            labels={"HAPROXY_GROUP": "external"},
        )
        client.create_app("web", app)
        wait_for(lambda: answers(service_port), timeout=30, what=f"the app on service port {service_port}")
        wait_for(
            lambda: "GET /v2/apps answered 401 (check --auth_credentials)" in anonymous.log_path.read_text(),
            timeout=20,
            what="the anonymous load balancer to report Marathon's 401",
        )
        assert f"frontend web_{service_port}" not in (tmp_path / "lb-anonymous" / "haproxy.cfg").read_text()
    finally:
        for daemon in (lb, anonymous):
            assert daemon.stop() == 0, daemon.log_tail()
    for daemon in (lb, anonymous):
        assert_no_secret(daemon.log_path.read_text(), "the load balancer's log")
        assert_no_secret((tmp_path / daemon.name / "haproxy.cfg").read_text(), "haproxy.cfg")
