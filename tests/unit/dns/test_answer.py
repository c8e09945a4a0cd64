"""answer.py: authoritative answers for one domain, REFUSED outside it, NXDOMAIN vs NODATA, truncation."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset

from corral.dns.answer import Zone, answer, respond
from corral.dns.records import RecordTable, Srv

ZONE = Zone(domain="mesos", ttl=30)
TARGET = "web-abcde-s0.marathon.slave.mesos"
TABLE = RecordTable(
    domain="mesos",
    serial=42,
    a={
        "web.marathon.mesos": ("10.0.0.10", "10.0.0.11"),
        TARGET: ("10.0.0.10",),
        "leader.mesos": ("10.0.0.5",),
        "ns1.mesos": ("127.0.0.1",),
    },
    aaaa={},
    srv={"_web._tcp.marathon.mesos": (Srv(TARGET, 31000), Srv(TARGET, 31001))},
    names=frozenset(
        {
            "mesos",
            "marathon.mesos",
            "web.marathon.mesos",
            "_tcp.marathon.mesos",
            "_web._tcp.marathon.mesos",
            "slave.mesos",
            "marathon.slave.mesos",
            TARGET,
            "leader.mesos",
            "ns1.mesos",
        }
    ),
)


def ask(name: str, kind: str = "A", table: RecordTable | None = TABLE, **kwargs: Any) -> dns.message.Message:
    return answer(dns.message.make_query(name, kind, **kwargs), table, ZONE)


def records(response: dns.message.Message, section: str = "answer") -> set[str]:
    rrsets: list[dns.rrset.RRset] = getattr(response, section)
    return {f"{r.name} {r.ttl} {dns.rdatatype.to_text(r.rdtype)} {rd}" for r in rrsets for rd in r}


def test_a_records_are_authoritative_with_the_configured_ttl() -> None:
    response = ask("web.marathon.mesos")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert not response.flags & dns.flags.RA
    assert records(response) == {
        "web.marathon.mesos. 30 A 10.0.0.10",
        "web.marathon.mesos. 30 A 10.0.0.11",
    }


def test_names_are_case_insensitive_and_the_question_case_is_kept() -> None:
    response = ask("WEB.Marathon.MESOS")
    assert {str(r.name) for r in response.answer} == {"WEB.Marathon.MESOS."}
    assert len(response.answer[0]) == 2


def test_srv_answers_carry_their_targets_addresses() -> None:
    response = ask("_web._tcp.marathon.mesos", "SRV")
    assert records(response) == {
        f"_web._tcp.marathon.mesos. 30 SRV 0 1 31000 {TARGET}.",
        f"_web._tcp.marathon.mesos. 30 SRV 0 1 31001 {TARGET}.",
    }
    assert records(response, "additional") == {f"{TARGET}. 30 A 10.0.0.10"}


def test_any_gives_every_type_the_name_has() -> None:
    assert len(records(ask("web.marathon.mesos", "ANY"))) == 2
    assert len(records(ask("_web._tcp.marathon.mesos", "ANY"))) == 2


def test_a_name_outside_the_domain_is_refused() -> None:
    for name in ("example.com", "mesos.example.com", "notmesos"):
        response = ask(name)
        assert response.rcode() == dns.rcode.REFUSED
        assert not response.flags & dns.flags.AA
        assert not response.answer


def test_an_unknown_name_in_the_domain_is_nxdomain_with_the_soa() -> None:
    response = ask("nope.marathon.mesos")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert records(response, "authority") == {"mesos. 30 SOA ns1.mesos. root.ns1.mesos. 42 60 600 86400 30"}


def test_a_known_name_without_the_type_is_nodata() -> None:
    for name, kind in [
        ("web.marathon.mesos", "AAAA"),
        ("web.marathon.mesos", "TXT"),
        ("leader.mesos", "SRV"),
    ]:
        response = ask(name, kind)
        assert response.rcode() == dns.rcode.NOERROR, (name, kind)
        assert not response.answer
        assert len(response.authority) == 1


def test_an_empty_non_terminal_is_nodata_not_nxdomain() -> None:
    assert ask("_tcp.marathon.mesos").rcode() == dns.rcode.NOERROR
    assert ask("marathon.mesos").rcode() == dns.rcode.NOERROR


def test_the_apex_has_soa_and_ns() -> None:
    assert records(ask("mesos", "SOA")) == {"mesos. 30 SOA ns1.mesos. root.ns1.mesos. 42 60 600 86400 30"}
    response = ask("mesos", "NS")
    assert records(response) == {"mesos. 30 NS ns1.mesos."}
    assert records(response, "additional") == {"ns1.mesos. 30 A 127.0.0.1"}


def test_before_the_first_table_in_domain_queries_fail_and_others_are_still_refused() -> None:
    assert ask("web.marathon.mesos", table=None).rcode() == dns.rcode.SERVFAIL
    assert ask("example.com", table=None).rcode() == dns.rcode.REFUSED


def test_zone_transfers_other_opcodes_and_other_edns_versions() -> None:
    assert ask("mesos", "AXFR").rcode() == dns.rcode.REFUSED
    notify = dns.message.make_query("mesos", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert answer(notify, TABLE, ZONE).rcode() == dns.rcode.NOTIMP
    assert ask("web.marathon.mesos", use_edns=1).rcode() == dns.rcode.BADVERS


def test_answers_are_shuffled_by_the_shuffle_given() -> None:
    query = dns.message.make_query("web.marathon.mesos", "A")
    response = answer(query, TABLE, ZONE, shuffle=lambda items: items.reverse())
    assert [str(rd) for rd in response.answer[0]] == ["10.0.0.11", "10.0.0.10"]


# ---------------------------------------------------------------- wire


def wire_query(name: str, kind: str = "A", **kwargs: Any) -> bytes:
    return dns.message.make_query(name, kind, **kwargs).to_wire()


def test_respond_round_trips_over_the_wire() -> None:
    query = dns.message.make_query("leader.mesos", "A")
    wire = respond(query.to_wire(), TABLE, ZONE, over_udp=True)
    assert wire is not None
    response = dns.message.from_wire(wire)
    assert response.id == query.id
    assert records(response) == {"leader.mesos. 30 A 10.0.0.5"}


def test_junk_is_dropped_and_a_malformed_query_is_formerr() -> None:
    assert respond(b"\x00\x01", TABLE, ZONE, over_udp=True) is None  # shorter than a header
    cut = respond(wire_query("leader.mesos")[:-3], TABLE, ZONE, over_udp=True)  # the question cut short
    assert cut is not None
    assert dns.message.from_wire(cut).rcode() == dns.rcode.FORMERR


def test_a_response_is_not_answered() -> None:
    query = dns.message.make_query("leader.mesos", "A")
    reply = dns.message.make_response(query)
    assert respond(reply.to_wire(), TABLE, ZONE, over_udp=True) is None


def big_table(count: int) -> RecordTable:
    ips = tuple(f"10.1.{i // 250}.{i % 250 + 1}" for i in range(count))
    return RecordTable(
        domain="mesos",
        serial=1,
        a={"big.marathon.mesos": ips},
        aaaa={},
        srv={},
        names=frozenset({"mesos", "marathon.mesos", "big.marathon.mesos"}),
    )


def test_udp_answers_are_truncated_to_512_bytes_or_the_edns_payload() -> None:
    # dnspython truncates whole RRsets (RFC 2181 5.1): a cut answer is empty with TC, and clients use TCP.
    def over_udp(count: int, **edns: Any) -> dns.message.Message:
        wire = respond(wire_query("big.marathon.mesos", **edns), big_table(count), ZONE, over_udp=True)
        assert wire is not None and len(wire) <= 1232
        return dns.message.from_wire(wire)

    fifty = over_udp(50)  # 50 A records: about 850 bytes
    assert fifty.flags & dns.flags.TC and not fifty.answer
    fifty_edns = over_udp(50, use_edns=0, payload=4096)
    assert not fifty_edns.flags & dns.flags.TC and len(fifty_edns.answer[0]) == 50
    assert over_udp(100, use_edns=0, payload=4096).flags & dns.flags.TC  # past 1232 bytes
    tcp = dns.message.from_wire(
        respond(wire_query("big.marathon.mesos"), big_table(100), ZONE, over_udp=False) or b""
    )
    assert not tcp.flags & dns.flags.TC and len(tcp.answer[0]) == 100
