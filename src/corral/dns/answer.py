"""Answer one DNS query from a RecordTable, authoritatively, for one domain only.

Rules (Mesos-DNS's resolver where it is right, RFC 1034/2308/8020 where it is not):
- a name outside the domain is REFUSED: Corral answers only its own domain and never recurses (RA is clear);
- inside it every answer is authoritative (AA); A, AAAA and SRV come from the table, ANY gives all three,
  SOA and NS exist at the apex (`ns1.<domain>` is the name server, `root.ns1.<domain>` the mailbox);
- a SRV answer carries the A/AAAA records of its targets in the additional section;
- a name with no records of the asked type is NOERROR with no answers when it exists (it owns records of
  another type, or names below it do), else NXDOMAIN; both carry the apex SOA for negative caching
  (Mesos-DNS answers NXDOMAIN for empty non-terminals, which tells resolvers no name below exists);
- before the first table arrives every in-domain query gets SERVFAIL; zone transfers are REFUSED,
  opcodes other than QUERY get NOTIMP, EDNS versions above 0 BADVERS, malformed queries FORMERR;
- over UDP a response is cut to 512 bytes, or the client's EDNS payload up to 1232, with TC set.
Answers are shuffled by the `shuffle` given (Mesos-DNS's rudimentary load balancing); pure code takes it as
an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from corral.dns.records import RecordTable

Shuffle = Callable[[list[Any]], None]

SRV_PRIORITY = 0
SRV_WEIGHT = 1  # Mesos-DNS's SRVRecordDefaultWeight
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 60, 600, 86400  # Mesos-DNS's defaults
PLAIN_UDP_SIZE = 512
EDNS_UDP_SIZE = 1232  # the largest UDP answer sent (DNS Flag Day 2020: no IP fragmentation)
TCP_SIZE = 65535
IN, ANY_CLASS = dns.rdataclass.IN, dns.rdataclass.ANY
A, AAAA, SRV, SOA, NS, ANY = (
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
    dns.rdatatype.SRV,
    dns.rdatatype.SOA,
    dns.rdatatype.NS,
    dns.rdatatype.ANY,
)
ZONE_TRANSFERS = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    """The domain answered for and the TTL of every record (Mesos-DNS's `ttl`, default 60)."""

    domain: str = "mesos"
    ttl: int = 60

    @property
    def origin(self) -> dns.name.Name:
        return dns.name.from_text(self.domain.strip(".").lower())


def _no_shuffle(items: list[Any]) -> None:
    del items


def _soa(zone: Zone, table: RecordTable) -> dns.rrset.RRset:
    ns, origin = f"ns1.{table.domain}.", f"{table.domain}."
    text = f"{ns} root.{ns} {table.serial} {SOA_REFRESH} {SOA_RETRY} {SOA_EXPIRE} {zone.ttl}"
    return dns.rrset.from_text_list(origin, zone.ttl, IN, SOA, [text])


def _addresses(
    owner: dns.name.Name, ttl: int, kind: dns.rdatatype.RdataType, ips: Sequence[str]
) -> dns.rrset.RRset | None:
    return dns.rrset.from_text_list(owner, ttl, IN, kind, list(ips)) if ips else None


class _Answer:
    """The sections of one authoritative response being filled."""

    def __init__(self, zone: Zone, table: RecordTable, shuffle: Shuffle) -> None:
        self.zone, self.table, self.shuffle = zone, table, shuffle
        self.answer: list[dns.rrset.RRset] = []
        self.additional: list[dns.rrset.RRset] = []

    def addresses(self, owner: dns.name.Name, name: str, kinds: Sequence[dns.rdatatype.RdataType]) -> None:
        for kind in kinds:
            ips = list((self.table.a if kind == A else self.table.aaaa).get(name, ()))
            self.shuffle(ips)
            if rrset := _addresses(owner, self.zone.ttl, kind, ips):
                self.answer.append(rrset)

    def services(self, owner: dns.name.Name, name: str) -> None:
        records = list(self.table.srv.get(name, ()))
        if not records:
            return
        self.shuffle(records)
        texts = [f"{SRV_PRIORITY} {SRV_WEIGHT} {r.port} {r.target}." for r in records]
        self.answer.append(dns.rrset.from_text_list(owner, self.zone.ttl, IN, SRV, texts))
        for target in dict.fromkeys(r.target for r in records):
            self.glue(target)

    def glue(self, target: str) -> None:
        owner = dns.name.from_text(target)
        for kind, table in ((A, self.table.a), (AAAA, self.table.aaaa)):
            if rrset := _addresses(owner, self.zone.ttl, kind, table.get(target, ())):
                self.additional.append(rrset)

    def apex(self, kind: dns.rdatatype.RdataType) -> None:
        if kind == SOA:
            self.answer.append(_soa(self.zone, self.table))
        else:
            ns = f"ns1.{self.table.domain}."
            self.answer.append(dns.rrset.from_text_list(f"{self.table.domain}.", self.zone.ttl, IN, NS, [ns]))
            self.glue(ns.rstrip("."))


def answer(
    query: dns.message.Message, table: RecordTable | None, zone: Zone, shuffle: Shuffle = _no_shuffle
) -> dns.message.Message:
    """The response to a parsed query (a response skeleton with the rcode set when it cannot be answered)."""
    response = dns.message.make_response(query, our_payload=EDNS_UDP_SIZE)
    if query.edns > 0:
        response.set_rcode(dns.rcode.BADVERS)
        return response
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    [question] = query.question
    qname, kind = question.name, question.rdtype
    if question.rdclass not in (IN, ANY_CLASS) or not qname.is_subdomain(zone.origin):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    if table is None:
        response.set_rcode(dns.rcode.SERVFAIL)
        return response
    if kind in ZONE_TRANSFERS:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    name = qname.to_text(omit_final_dot=True).lower()
    out = _Answer(zone, table, shuffle)
    if kind in (A, AAAA, ANY):
        out.addresses(qname, name, (A, AAAA) if kind == ANY else (kind,))
    if kind in (SRV, ANY):
        out.services(qname, name)
    if name == table.domain and kind in (SOA, NS, ANY):
        for apex_kind in (SOA, NS) if kind == ANY else (kind,):
            out.apex(apex_kind)
    response.answer = out.answer
    response.additional = out.additional
    if not out.answer:
        response.set_rcode(dns.rcode.NOERROR if table.exists(name) else dns.rcode.NXDOMAIN)
        response.authority = [_soa(zone, table)]
    return response


def respond(
    wire: bytes,
    table: RecordTable | None,
    zone: Zone,
    *,
    over_udp: bool,
    shuffle: Shuffle = _no_shuffle,
) -> bytes | None:
    """The wire response to a wire query; None when nothing should be sent (no header, or not a query)."""
    try:
        query = dns.message.from_wire(wire, continue_on_error=True)
    except dns.exception.DNSException:
        return None
    if query.flags & dns.flags.QR:
        return None
    if query.errors:
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.FORMERR)
    else:
        response = answer(query, table, zone, shuffle)
    limit = TCP_SIZE
    if over_udp:
        limit = max(PLAIN_UDP_SIZE, min(query.payload, EDNS_UDP_SIZE)) if query.edns >= 0 else PLAIN_UDP_SIZE
    return response.to_wire(max_size=limit, prefer_truncation=True)
