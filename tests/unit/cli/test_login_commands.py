"""`corral login`/`logout` and the client commands against daemons that authenticate: apps behind the real
authentication middleware, served on loopback. The token, never the password, is kept per daemon in a file
only its user can read; a 401 is one line that says how to log in."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from corral.cli.main import cli, main
from corral.cli.tokens_store import StoredToken, TokenStore
from corral.security.credentials import Credentials
from corral.security.http_auth import AuthConfig, AuthMiddleware
from corral.security.policy import AuthRequirements, Surface
from corral.security.tokens import TokenSigner

SECRET = "s3cret-Pa55"
CREDENTIALS = Credentials({"ops": SECRET})
MASTER_STATE = json.loads((Path(__file__).parent / "master_state.json").read_text())


def _answer(body: object) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(body)

    return endpoint


ROUTES = [
    Route("/master/state", _answer(MASTER_STATE)),
    Route("/v2/apps", _answer({"apps": []})),
    Route("/scheduler/jobs", _answer([])),
]


def _classify(method: str, path: str) -> Surface:
    if path in ("/login", "/logout"):
        return Surface.PUBLIC
    return Surface.READONLY if method == "GET" else Surface.READWRITE


def secured_app() -> ASGIApp:
    surfaces = frozenset({Surface.READONLY, Surface.READWRITE})
    config = AuthConfig(
        credentials=CREDENTIALS,
        signer=TokenSigner.from_credentials(CREDENTIALS),
        requirements=AuthRequirements(surfaces, surfaces),
        classify=_classify,
    )
    return AuthMiddleware(Starlette(routes=ROUTES), config)


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """`app` on a free loopback port, in a thread; its host:port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass(frozen=True)
class Daemons:
    master: str  # secured
    marathon: str  # secured, the same principals
    open: str  # no authentication at all


@pytest.fixture(scope="module")
def daemons() -> Iterator[Daemons]:
    with (
        serving(secured_app()) as master,
        serving(secured_app()) as marathon,
        serving(Starlette(routes=ROUTES)) as unsecured,
    ):
        yield Daemons(master, marathon, unsecured)


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CORRAL_PRINCIPAL", "CORRAL_SECRET_FILE", "CORRAL_MASTER", "CORRAL_MARATHON"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    return path


def corral(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`corral ARGS` as main() runs it: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def tokens_file(config_home: Path) -> Path:
    return config_home / "corral" / "tokens.json"


def test_a_command_refused_with_401_says_in_one_line_how_to_log_in(
    daemons: Daemons, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = corral(capsys, "cluster", "status", "--master", daemons.master)
    assert code == 1 and out == ""
    assert err == (
        f"corral: error: GET /master/state on the master at {daemons.master} answered 401 Unauthorized: "
        f"authentication required; run `corral login --master {daemons.master}`\n"
    )


def test_login_prompts_and_keeps_the_token_not_the_password_in_a_private_file(
    daemons: Daemons, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(cli, ["login", "--master", daemons.master], input=f"ops\n{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert f"logged in to the master at {daemons.master} as ops" in result.output
    assert SECRET not in result.output  # the prompt does not echo it

    path = tokens_file(config_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SECRET not in path.read_text()
    [(url, entry)] = json.loads(path.read_text()).items()
    assert url == f"http://{daemons.master}" and entry["principal"] == "ops"
    assert entry["expires"] > time.time()

    code, out, err = corral(capsys, "task", "list", "--all", "-o", "json", "--master", daemons.master)
    assert (code, err) == (0, "")
    assert json.loads(out)


def test_tokens_are_per_daemon_and_a_script_logs_in_from_a_secret_file(
    daemons: Daemons, secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["login", "--marathon", daemons.marathon, "--principal", "ops", "--secret_file", str(secret_file)]
    code, out, _ = corral(capsys, *args)
    assert code == 0 and out.startswith(f"logged in to the Marathon at {daemons.marathon} as ops")
    assert corral(capsys, "app", "list", "--marathon", daemons.marathon)[0] == 0
    # Chronos at the same address is the same daemon URL: the same token.
    assert corral(capsys, "job", "list", "--chronos", daemons.marathon)[:2] == (0, "no jobs\n")

    code, _, err = corral(capsys, "cluster", "status", "--master", daemons.master)
    assert code == 1 and f"run `corral login --master {daemons.master}`" in err


def test_a_wrong_password_stores_nothing(
    daemons: Daemons, config_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("guess")
    code, _, err = corral(
        capsys, "login", "--master", daemons.master, "--principal", "ops", "--secret_file", str(wrong)
    )
    assert code == 1
    assert err == (
        f"corral: error: POST /login on the master at {daemons.master} answered 401 Unauthorized: "
        "invalid credentials\n"
    )
    assert not tokens_file(config_home).exists()


def test_the_environment_logs_in_each_command_with_basic_credentials(
    daemons: Daemons, secret_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("CORRAL_PRINCIPAL", "ops")
    monkeypatch.setenv("CORRAL_SECRET_FILE", str(secret_file))
    assert corral(capsys, "cluster", "status", "--master", daemons.master)[0] == 0

    (tmp_path / "stale").write_text("old")
    monkeypatch.setenv("CORRAL_SECRET_FILE", str(tmp_path / "stale"))
    code, _, err = corral(capsys, "cluster", "status", "--master", daemons.master)
    assert code == 1
    assert err.endswith("invalid credentials; check $CORRAL_PRINCIPAL and $CORRAL_SECRET_FILE\n")

    monkeypatch.delenv("CORRAL_SECRET_FILE")
    code, _, err = corral(capsys, "cluster", "status", "--master", daemons.master)
    assert code == 2 and "$CORRAL_PRINCIPAL and $CORRAL_SECRET_FILE go together" in err


def test_an_expired_token_is_not_sent_and_the_401_says_to_log_in_again(
    daemons: Daemons, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = TokenSigner.from_credentials(CREDENTIALS)
    issued = time.time() - 9 * 3600
    token = StoredToken("ops", signer.issue("ops", now=issued), expires=issued + 8 * 3600)
    TokenStore(tokens_file(config_home)).put(f"http://{daemons.master}", token)
    code, _, err = corral(capsys, "cluster", "status", "--master", daemons.master)
    assert code == 1 and "authentication required; run `corral login --master" in err


def test_logout_forgets_the_token(
    daemons: Daemons, secret_file: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    login = ["--principal", "ops", "--secret_file", str(secret_file)]
    assert corral(capsys, "login", "--master", daemons.master, "--marathon", daemons.marathon, *login)[0] == 0
    code, out, _ = corral(capsys, "logout", "--master", daemons.master)
    assert (code, out) == (0, f"logged out of the master at {daemons.master}\n")
    assert corral(capsys, "cluster", "status", "--master", daemons.master)[0] == 1
    assert corral(capsys, "app", "list", "--marathon", daemons.marathon)[0] == 0
    assert corral(capsys, "logout", "--master", daemons.master)[1] == (
        f"no token stored for the master at {daemons.master}\n"
    )
    assert corral(capsys, "logout", "--all")[:2] == (0, "forgot 1 token(s)\n")
    assert not tokens_file(config_home).exists()


def test_a_daemon_without_authentication_needs_no_login(
    daemons: Daemons, secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    login = ["--principal", "ops", "--secret_file", str(secret_file)]
    code, _, err = corral(capsys, "login", "--master", daemons.open, *login)
    assert code == 1
    assert "runs without authentication, so commands need no login" in err
    assert corral(capsys, "cluster", "status", "--master", daemons.open)[0] == 0


def test_a_damaged_tokens_file_is_one_line_naming_it(
    daemons: Daemons, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tokens_file(config_home)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    code, _, err = corral(capsys, "cluster", "status", "--master", daemons.master)
    assert code == 1 and f"{path} is damaged" in err and "log in again" in err
