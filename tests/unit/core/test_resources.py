"""Resources: the agent's `--resources` syntax (mesos.md f.1), the v0 "model" format (mesos.md c.2), and the
bundle arithmetic the allocator relies on, checked against a naive model in which scalars are integer
thousandths (Mesos' fixed point, mesos.md a.4 "Scalar precision"), ports are a Python set of ints and set
resources are a Python set of strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.errors import ResourceParseError
from corral.core.resources import (
    Range,
    Resources,
    format_ranges,
    normalize_ranges,
    parse_resources,
    range_count,
    ranges_contain,
    subtract_ranges,
)

# ---------------------------------------------------------------- the naive reference model


@dataclass(frozen=True)
class Model:
    milli: dict[str, int]  # thousandths; only positive entries
    ports: frozenset[int]
    zones: frozenset[str]

    def __add__(self, other: Model) -> Model:
        names = self.milli.keys() | other.milli.keys()
        milli = {n: self.milli.get(n, 0) + other.milli.get(n, 0) for n in names}
        return Model(milli, self.ports | other.ports, self.zones | other.zones)

    def __sub__(self, other: Model) -> Model:
        milli = {n: v - other.milli.get(n, 0) for n, v in self.milli.items()}
        return Model(
            {n: v for n, v in milli.items() if v > 0}, self.ports - other.ports, self.zones - other.zones
        )

    def fits_in(self, other: Model) -> bool:
        scalars_fit = all(v <= other.milli.get(n, 0) for n, v in self.milli.items())
        return scalars_fit and self.ports <= other.ports and self.zones <= other.zones

    def resources(self) -> Resources:
        return Resources.of(
            ranges={"ports": [(p, p) for p in self.ports]},
            sets={"zones": self.zones},
            **{n: v / 1000 for n, v in self.milli.items()},
        )


def ports_of(ranges: tuple[Range, ...]) -> frozenset[int]:
    return frozenset(p for b, e in ranges for p in range(b, e + 1))


models = st.builds(
    Model,
    st.dictionaries(st.sampled_from(["cpus", "mem", "disk", "gpus"]), st.integers(1, 10**9)),
    st.frozensets(st.integers(31000, 31060)),
    st.frozensets(st.sampled_from("abcdef")),
)
range_lists = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)).map(lambda t: (t[0], t[0] + t[1])))


def assert_normalized(r: Resources) -> None:
    """The module's invariants: positive 3-decimal scalars, sorted merged ranges, no empty entries."""
    for value in r.scalars.values():
        assert value > 0
        assert value == round(value, 3)
    for rs in r.ranges.values():
        assert rs
        assert all(b <= e for b, e in rs)
        assert all(prev_end + 1 < begin for (_, prev_end), (begin, _) in pairwise(rs))
    for items in r.sets.values():
        assert items


# ---------------------------------------------------------------- parsing `--resources` (mesos.md f.1)


def test_parse_the_agent_default_resources() -> None:
    r = parse_resources("cpus:4;mem:4096;disk:10000;ports:[31000-32000]")
    assert r == Resources.of(cpus=4, mem=4096, disk=10000, ranges={"ports": [(31000, 32000)]})
    assert (r.cpus, r.mem, r.disk, r.ports()) == (4.0, 4096.0, 10000.0, ((31000, 32000),))


def test_parse_mesos_example_with_several_ranges_and_a_set() -> None:
    # mesos.md f.1, without the `(debug_role)` static reservation (see the next test)
    r = parse_resources("cpus:24;mem:24576;disk:409600;ports:[21000-24000,30000-34000];bugs:{a,b,c}")
    assert r.scalars == {"cpus": 24.0, "mem": 24576.0, "disk": 409600.0}
    assert r.ports() == ((21000, 24000), (30000, 34000))
    assert r.sets == {"bugs": frozenset({"a", "b", "c"})}


def test_static_reservations_are_accepted_only_for_the_default_role() -> None:
    assert parse_resources("cpus(*):2") == Resources.of(cpus=2)
    with pytest.raises(
        ResourceParseError, match=r"bugs: reservations for role 'debug_role' are not supported"
    ):
        parse_resources("cpus:24;bugs(debug_role):{a,b,c}")


def test_whitespace_empty_items_and_repeated_names() -> None:
    assert parse_resources(" cpus : 1 ;; mem:64; cpus:0.5 ;") == Resources.of(cpus=1.5, mem=64)
    assert parse_resources("ports:[1-5, 3-8, 10-10, 9-9]").ports() == ((1, 10),)
    assert parse_resources("ports:[1-2];ports:[4-5]").ports() == ((1, 2), (4, 5))
    assert parse_resources("").is_empty()


def test_parse_rounds_to_three_decimals_and_drops_zeros() -> None:
    assert parse_resources("cpus:0.12345").cpus == 0.123
    assert parse_resources("gpus:0;cpus:0.0001") == Resources()


def test_empty_range_lists_and_sets_are_dropped() -> None:
    assert parse_resources("ports:[];zones:{}") == Resources()
    assert parse_resources("cpus:1;ports:[ ]").ranges == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cpus:four", r"cpus: 'four' is not a number"),
        ("mem:-1", r"mem: '-1' must be a finite number >= 0"),
        ("cpus:nan", r"cpus: 'nan' must be a finite number >= 0"),
        ("cpus:inf", r"cpus: 'inf' must be a finite number >= 0"),
        ("ports:[32000-31000]", r"ports: range '32000-31000' begins after it ends"),
        ("ports:[a-b]", r"ports: bad range 'a-b' \(expected BEGIN-END\)"),
        ("ports:[31000]", r"ports: bad range '31000'"),
        ("ports:[-5-3]", r"ports: bad range '-5-3'"),
        ("ports:[1-2", r"ports: unterminated range list '\[1-2'"),
        ("zones:{a,b", r"zones: unterminated set '\{a,b'"),
        ("cpus", r"bad resource 'cpus' \(expected NAME:VALUE\)"),
        ("4:cpus", r"bad resource '4:cpus'"),
        ("cpus:", r"bad resource 'cpus:'"),
    ],
)
def test_bad_resources_are_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ResourceParseError, match=message):
        parse_resources(text)


@given(models)
def test_str_parses_back_to_the_same_resources(model: Model) -> None:
    r = model.resources()
    assert parse_resources(str(r)) == r


# ---------------------------------------------------------------- arithmetic


def test_a_task_fits_an_offer_and_leaves_the_rest() -> None:
    offer = parse_resources("cpus:4;mem:4096;disk:10000;ports:[31000-32000]")
    task = Resources.of(cpus=0.5, mem=128, ranges={"ports": [(31000, 31000)]})
    assert task <= offer
    assert offer - task == Resources.of(cpus=3.5, mem=3968, disk=10000, ranges={"ports": [(31001, 32000)]})
    assert (offer - task) + task == offer


def test_missing_from_names_the_first_shortfall() -> None:
    have = Resources.of(cpus=1.5, mem=512, ranges={"ports": [(31000, 31004)]}, sets={"zones": ["a"]})
    assert Resources.of(cpus=2).missing_from(have) == "cpus: need 2, have 1.5"
    assert Resources.of(gpus=1).missing_from(have) == "gpus: need 1, have 0"
    wanted_port = Resources.of(ranges={"ports": [(31005, 31005)]})
    assert wanted_port.missing_from(have) == "ports: need [31005-31005], have [31000-31004]"
    assert Resources.of(sets={"zones": ["b"]}).missing_from(have) == "zones: need ['b'], have ['a']"
    assert Resources.of(cpus=1.5, mem=512).missing_from(have) is None
    assert not Resources.of(cpus=2) <= have


def test_scalars_are_fixed_point_so_float_noise_cancels() -> None:
    # 0.1 + 0.2 != 0.3 in binary floating point; Mesos' 3-decimal fixed point makes it so.
    assert Resources.of(cpus=0.1) + Resources.of(cpus=0.2) == Resources.of(cpus=0.3)
    total = Resources()
    for _ in range(10):
        total += Resources.of(cpus=0.1)
    assert total == Resources.of(cpus=1)
    assert (total - Resources.of(cpus=0.3)).cpus == 0.7
    assert Resources.of(cpus=0.0004).is_empty()


def test_subtraction_saturates_at_zero() -> None:
    have = Resources.of(cpus=1, ranges={"ports": [(1, 3)]}, sets={"zones": ["a"]})
    assert have - Resources.of(cpus=2, mem=10, ranges={"ports": [(0, 9)]}, sets={"zones": ["a", "b"]}) == (
        Resources()
    )


def test_to_model_writes_every_model_scalar_and_ranges_as_strings() -> None:
    # The v0 endpoints' "resources" objects, e.g. /master/state's agent `resources` (mesos.md c.2)
    r = parse_resources("cpus:4;mem:4096;disk:10000;ports:[31000-32000]")
    assert r.to_model() == {
        "cpus": 4.0,
        "gpus": 0.0,
        "mem": 4096.0,
        "disk": 10000.0,
        "ports": "[31000-32000]",
    }
    two = parse_resources("ports:[21000-24000,30000-34000];zones:{b,a}")
    assert two.to_model()["ports"] == "[21000-24000, 30000-34000]"
    assert two.to_model()["zones"] == "{a,b}"
    assert Resources().to_model() == {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}


@given(models, models)
def test_addition_matches_the_model(a: Model, b: Model) -> None:
    total = a.resources() + b.resources()
    assert total == (a + b).resources()
    assert_normalized(total)


@given(models, models)
def test_subtraction_matches_the_model(a: Model, b: Model) -> None:
    left = a.resources() - b.resources()
    assert left == (a - b).resources()
    assert_normalized(left)


@given(models, models)
def test_fits_matches_the_model(a: Model, b: Model) -> None:
    assert (a.resources() <= b.resources()) == a.fits_in(b)
    assert (a.resources().missing_from(b.resources()) is None) == a.fits_in(b)


@given(models, models)
def test_adding_then_subtracting_gives_back_the_original(a: Model, b: Model) -> None:
    # Ranges and sets add as unions, so only the part of `b` that `a` does not hold comes back off.
    b = Model(b.milli, b.ports - a.ports, b.zones - a.zones)
    assert (a.resources() + b.resources()) - b.resources() == a.resources()


@given(models, models)
def test_each_part_fits_in_the_sum(a: Model, b: Model) -> None:
    total = a.resources() + b.resources()
    assert b.resources() <= total
    assert a.resources() <= total
    assert (a.resources() - total).is_empty()  # saturating: never a negative remainder


@given(st.lists(st.integers(0, 5_000_000), max_size=20))
def test_sums_are_rounded_like_the_exact_decimal_sum(thousandths: list[int]) -> None:
    total = Resources()
    for t in thousandths:
        total += Resources.of(mem=t / 1000)
    assert total.mem == sum(thousandths) / 1000


@given(st.floats(0, 1e9, allow_nan=False))
def test_scalars_keep_three_decimals(value: float) -> None:
    r = Resources.of(cpus=value)
    assert r.cpus == round(value, 3)
    assert_normalized(r)


# ---------------------------------------------------------------- range helpers


@given(range_lists)
def test_normalize_ranges_merges_overlapping_and_adjacent_ranges(rs: list[Range]) -> None:
    merged = normalize_ranges(rs)
    assert ports_of(merged) == ports_of(tuple(rs))
    assert_normalized(Resources(ranges={"ports": merged}) if merged else Resources())
    assert range_count(merged) == len(ports_of(tuple(rs)))


@given(range_lists, range_lists)
def test_range_subtraction_and_containment_match_sets(have: list[Range], take: list[Range]) -> None:
    h, t = normalize_ranges(have), normalize_ranges(take)
    assert ports_of(subtract_ranges(h, t)) == ports_of(h) - ports_of(t)
    assert ranges_contain(h, t) == (ports_of(t) <= ports_of(h))


def test_format_ranges() -> None:
    assert format_ranges(((31000, 31099), (31101, 32000))) == "[31000-31099, 31101-32000]"
    assert format_ranges(()) == "[]"
