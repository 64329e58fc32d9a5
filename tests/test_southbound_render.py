"""Rendering DeviceConfig to XML and back, and minimal edits (checked by applying them to a
simulated router's datastore code)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    QosQueue,
    SegmentList,
    SrPolicy,
    SteeringRule,
)
from controller.errors import ValidationError
from controller.southbound.render import (
    OPERATION,
    canonical,
    parse_config,
    render_config,
    render_edit,
)
from controller.southbound.yang import Schema
from harness.datastore import apply_edit, new_datastore

SCHEMA = Schema()
sids = st.lists(st.integers(1, 0xFFFF).map(lambda i: f"fcbb:bb00:{i:x}::1"), min_size=1, max_size=4)
names = st.sampled_from(["a", "b", "c"])


@st.composite
def policies(draw: st.DrawFn) -> tuple[SrPolicy, ...]:
    keys = draw(st.sets(st.tuples(st.integers(1, 4), st.sampled_from(["fc00:0:2::1", "r9"])),
                        max_size=3))  # fmt: skip
    out = []
    for color, endpoint in sorted(keys):
        paths = tuple(
            CandidatePath(cp, draw(st.integers(1, 300)),
                          tuple(SegmentList(sl, tuple(draw(sids)), draw(st.integers(1, 3)))
                                for sl in draw(st.sets(names, min_size=1, max_size=2))))
            for cp in draw(st.sets(names, min_size=1, max_size=2))
        )  # fmt: skip
        bsid = draw(st.none() | st.just("fcbb:bb00:1:b::"))
        bw = float(draw(st.integers(0, 10**10)))
        out.append(SrPolicy(color, endpoint, f"p{color}", paths, bw, bsid))
    return tuple(out)


@st.composite
def configs(draw: st.DrawFn) -> DeviceConfig:
    pols = draw(policies())
    rules = tuple(
        SteeringRule(f"s{i}", p.color, p.endpoint, dscp=draw(st.none() | st.integers(0, 63)),
                     prefix=draw(st.none() | st.just("2001:db8::/32")),
                     protocol=draw(st.none() | st.sampled_from([6, 17, 50])),
                     ports=tuple(draw(st.lists(st.sampled_from(["443", "53", "5060-5061"]),
                                               max_size=3))),
                     src_prefixes=tuple(draw(st.lists(st.sampled_from(["10.8.1.0/24",
                                                                       "2001:db8:8::/48"]),
                                                      max_size=2))))
        for i, p in enumerate(pols) if draw(st.booleans())
    )  # fmt: skip
    classes = draw(st.sets(st.sampled_from(["voice", "video", "office"]), max_size=3))
    qos = tuple(
        QosQueue(c, q, tuple(draw(st.sets(st.integers(0, 63), max_size=3))),
                 priority=draw(st.booleans()), weight=draw(st.integers(1, 100)),
                 rate_limit_bps=draw(st.none() | st.integers(1, 10**9).map(float)))
        for q, c in enumerate(sorted(classes))
    )  # fmt: skip
    return DeviceConfig("r1", pols, rules, qos)


@settings(max_examples=60, deadline=None)
@given(configs())
def test_render_then_parse_gives_the_same_config(cfg: DeviceConfig) -> None:
    assert parse_config("r1", render_config(cfg)) == canonical(cfg)


@settings(max_examples=60, deadline=None)
@given(configs(), configs())
def test_minimal_edit_turns_old_into_new_on_a_router_datastore(
    a: DeviceConfig, b: DeviceConfig
) -> None:
    store = new_datastore()
    apply_edit(SCHEMA, store, render_config(a), "merge")
    edit = render_edit(a, b)
    if canonical(a) == canonical(b):
        assert edit is None
        return
    assert edit is not None
    apply_edit(SCHEMA, store, edit, "merge")
    assert parse_config("r1", store) == canonical(b)
    # only changed entries carry an operation, and nothing else is sent
    touched = [el for el in edit.iter() if el.get(OPERATION)]
    old_keys = {p.key: p for p in canonical(a).sr_policies}
    new_keys = {p.key: p for p in canonical(b).sr_policies}
    changed = {k for k in old_keys.keys() | new_keys.keys() if old_keys.get(k) != new_keys.get(k)}
    policy_ops = [el for el in touched if el.tag.endswith("}policy")]
    assert len(policy_ops) == len(changed)
    assert all(len(el) > 0 for el in touched)


def test_unchanged_config_yields_no_edit_and_full_replace_is_explicit() -> None:
    cfg = DeviceConfig("r1", qos=(QosQueue("voice", 5, (46,), True),))
    assert render_edit(cfg, cfg) is None
    full = render_edit(cfg, cfg, full=True)
    assert full is not None
    assert {el.get(OPERATION) for el in full} == {"replace"}


def test_removed_entry_is_sent_as_remove_with_its_keys_only() -> None:
    voice = QosQueue("voice", 5, (46,), True)
    edit = render_edit(DeviceConfig("r1", qos=(voice,)), DeviceConfig("r1"))
    assert edit is not None
    (cls,) = [el for el in edit.iter() if el.get(OPERATION)]
    assert cls.get(OPERATION) == "remove"
    assert [child.tag.split("}")[1] for child in cls] == ["name"]


def test_rule_ports_must_be_ports_or_ranges_for_the_module() -> None:
    policy = SrPolicy(1, "r9", "p1", (CandidatePath("a", 1, (SegmentList("a", ("fcbb::1",)),)),))
    for port, ok in (("443", True), ("16384-32767", True), ("70000", False), ("443-", False)):
        rule = SteeringRule("s", 1, "r9", protocol=17, ports=(port,))
        cfg = render_config(DeviceConfig("r1", (policy,), (rule,)))
        doc = b"".join(etree.tostring(el) for el in cfg)
        if ok:
            SCHEMA.validate(doc, "config")
        else:
            with pytest.raises(ValidationError, match="port"):
                SCHEMA.validate(doc, "config")
