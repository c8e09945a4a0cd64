"""`corral dev` as a process: several agents with disjoint ports, clean shutdown, a port already in use."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.core.resources import parse_resources, ranges_contain
from corral.testing.procs import clean_env, corral_command, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration


def test_two_agents_have_disjoint_port_ranges(tmp_path: Path) -> None:
    with start_dev(tmp_path, agents=2, resources="cpus:2;mem:1024;disk:1000;ports:[31000-31999]") as dev:
        slaves = dev.state()["slaves"]
        assert isinstance(slaves, list) and len(slaves) == 2
        ports = []
        for slave in slaves:
            assert isinstance(slave, dict)
            resources = slave["resources"]
            assert isinstance(resources, dict)
            ports.append(parse_resources(f"ports:{resources['ports']}").ports())
        assert sorted(ports) == [((31000, 31499),), ((31500, 31999),)]
        assert not ranges_contain(ports[0], ports[1][:1]) and not ranges_contain(ports[1], ports[0][:1])
        assert len(set(dev.agent_addresses())) == 2
        assert {p.name for p in dev.work_dir.iterdir()} >= {"master", "agent-0", "agent-1"}
        assert dev.stop() == 0


def test_sigterm_stops_cleanly_with_exit_code_zero(tmp_path: Path) -> None:
    dev = start_dev(tmp_path)
    assert dev.stop(grace=10) == 0
    assert "Traceback" not in dev.log_tail(200)


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [*corral_command(), "dev", "--work_dir", str(tmp_path / "w"), "--master_port", str(port)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, env=clean_env(), check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"corral: error: cannot listen on 127.0.0.1:{port} for the master: address already in use"
    ]


def test_master_and_agent_as_separate_daemons(tmp_path: Path) -> None:
    master_port, agent_port = free_ports(2)
    master = f"127.0.0.1:{master_port}"
    env = clean_env({"MESOS_WORK_DIR": str(tmp_path / "master")})  # flags may come from the environment
    logs = [(tmp_path / "master.log").open("wb"), (tmp_path / "agent.log").open("wb")]
    procs = [
        subprocess.Popen(
            [*corral_command(), "master", "--port", str(master_port), "--allocation_interval", "200ms"],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
            env=env,
        ),
        subprocess.Popen(
            [*corral_command(), "agent", "--port", str(agent_port), "--work-dir", str(tmp_path / "agent")],
            stdout=logs[1],
            stderr=subprocess.STDOUT,
            env=clean_env({"MESOS_MASTER": master, "MESOS_RESOURCES": "cpus:2;mem:512"}),
        ),
    ]
    try:
        with httpx.Client(trust_env=False, timeout=5) as http:

            def registered() -> list[Any] | None:
                try:
                    slaves = http.get(f"http://{master}/master/state").json().get("slaves")
                except httpx.HTTPError:
                    return None
                return slaves if isinstance(slaves, list) and slaves else None

            [slave] = wait_for(registered, timeout=20, what="the agent to register")
            assert slave["pid"].endswith(f"@127.0.0.1:{agent_port}")
            assert slave["resources"]["cpus"] == 2
            assert http.get(f"http://127.0.0.1:{agent_port}/state").status_code == 200
        assert (tmp_path / "master").is_dir()
    finally:
        for proc in reversed(procs):
            proc.terminate()
        codes = [proc.wait(10) for proc in procs]
        for log in logs:
            log.close()
    assert codes == [0, 0], [(tmp_path / n).read_text() for n in ("master.log", "agent.log")]
