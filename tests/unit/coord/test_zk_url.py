"""Master and ZooKeeper URLs, as Mesos' flags take them (`mesos.md` d.1: `--zk`, `--master`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.coord.zk_url import HostPort, InvalidUrl, ZkUrl, join_path, parse_master, parse_zk_url, str_masked


def no_file(path: str) -> str:
    raise AssertionError(f"unexpected read of {path}")


def test_a_zk_url_names_servers_and_a_path() -> None:
    url = parse_zk_url("zk://h1:2181,h2:2182,h3:2183/mesos")
    assert url == ZkUrl(
        servers=(HostPort("h1", 2181), HostPort("h2", 2182), HostPort("h3", 2183)), path="/mesos"
    )
    assert url.hosts == "h1:2181,h2:2182,h3:2183"
    assert url.credentials is None and url.digest is None
    assert str(url) == "zk://h1:2181,h2:2182,h3:2183/mesos"


def test_port_and_path_have_defaults() -> None:
    url = parse_zk_url("zk://zk1,zk2")
    assert url.servers == (HostPort("zk1", 2181), HostPort("zk2", 2181))
    assert url.path == "/"


def test_paths_are_normalized() -> None:
    assert parse_zk_url("zk://h:1/mesos/").path == "/mesos"
    assert parse_zk_url("zk://h:1/a/b").path == "/a/b"
    assert parse_zk_url("zk://h:1/").path == "/"
    assert parse_zk_url("  zk://h:1/m\n").path == "/m"


def test_credentials_come_before_the_servers() -> None:
    url = parse_zk_url("zk://user:s3cr@t@h1:2181,h2/marathon")
    assert url.credentials == ("user", "s3cr@t")
    assert url.digest == "user:s3cr@t"
    assert url.servers == (HostPort("h1", 2181), HostPort("h2", 2181))
    assert url.path == "/marathon"
    assert "s3cr" not in str(url)  # safe to log


def test_ipv6_servers_are_bracketed() -> None:
    url = parse_zk_url("zk://[::1]:2181,[fe80::1]/mesos")
    assert url.servers == (HostPort("::1", 2181), HostPort("fe80::1", 2181))
    assert url.hosts == "[::1]:2181,[fe80::1]:2181"


@pytest.mark.parametrize(
    "text",
    [
        "http://h:2181/mesos",
        "zk:///mesos",
        "zk://h:notaport/mesos",
        "zk://h:0/mesos",
        "zk://h:70000/mesos",
        "zk://h1:2181,,h2/mesos",
        "zk://:2181/mesos",
        "zk://user@h/mesos",
        "zk://:pw@h/mesos",
        "zk://h/a//b",
        "zk://h/a/../b",
        "zk://::1/mesos",
        "zk://[::1/mesos",
    ],
)
def test_malformed_zk_urls_are_refused(text: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_zk_url(text)


def test_errors_do_not_show_the_password() -> None:
    with pytest.raises(InvalidUrl) as raised:
        parse_zk_url("zk://user:hunter2@h:bad/mesos")
    assert "hunter2" not in str(raised.value)
    assert str_masked("zk://u:p@h/x") == "zk://u:***@h/x"
    assert str_masked("zk://h/x@y") == "zk://h/x@y"


def test_master_may_be_host_port() -> None:
    assert parse_master("10.0.0.5:5050", no_file) == HostPort("10.0.0.5", 5050)
    assert parse_master("master1", no_file) == HostPort("master1", 5050)
    assert str(HostPort("::1", 5050)) == "[::1]:5050"


def test_master_may_be_a_zk_url() -> None:
    assert parse_master("zk://h:2181/mesos", no_file) == parse_zk_url("zk://h:2181/mesos")


def test_a_file_url_holds_the_master() -> None:
    files = {"/etc/mesos/zk": "zk://h1:2181,h2:2181/mesos\n", "/etc/master": "m:5051"}
    assert parse_master("file:///etc/mesos/zk", files.__getitem__) == parse_zk_url(
        "zk://h1:2181,h2:2181/mesos"
    )
    assert parse_master("file:///etc/master", files.__getitem__) == HostPort("m", 5051)


def test_file_urls_are_checked() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    with pytest.raises(InvalidUrl, match="cannot read"):
        parse_master("file:///nope", missing)
    with pytest.raises(InvalidUrl, match="absolute"):
        parse_master("file://relative", no_file)
    with pytest.raises(InvalidUrl, match="one level"):
        parse_master("file:///a", {"/a": "file:///b"}.__getitem__)
    with pytest.raises(InvalidUrl):
        parse_master("http://h:5050", no_file)


def test_child_paths() -> None:
    url = parse_zk_url("zk://h/marathon")
    assert url.child("state", "apps") == "/marathon/state/apps"
    assert parse_zk_url("zk://h").child("mesos") == "/mesos"
    assert join_path("/a/", "/b/", "c") == "/a/b/c"


@given(
    hosts=st.lists(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), min_size=1, max_size=5),
    ports=st.lists(st.integers(1, 65535), min_size=5, max_size=5),
    path=st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True), max_size=4),
)
def test_printing_and_parsing_round_trip(hosts: list[str], ports: list[int], path: list[str]) -> None:
    url = ZkUrl(
        servers=tuple(HostPort(h, p) for h, p in zip(hosts, ports, strict=False)), path=join_path("/", *path)
    )
    assert parse_zk_url(str(url)) == url
