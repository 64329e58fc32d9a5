"""The native YAML format: defaults, derived values and one clear message per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import NotFoundError, TopologyError, ValidationError
from controller.topology import LinkState, great_circle_km
from topologies.loader import load

GOOD = """\
name: small
nodes:
  - {name: A, lat: 31.23, lon: 121.47}
  - {name: B, lat: 39.90, lon: 116.40, index: 7}
  - {name: C, role: branch, max_sid_depth: 3}
links:
  - {a: A, b: B, capacity: 10G}
  - {a: A, b: B, id: A-B-2, capacity: 1.5Gbps, delay: 7ms, srlgs: duct-1, affinities: [red]}
  - {a: B, b: C, capacity: 250M, delay: 2ms, igp_metric: 30, te_metric: 99, medium: mpls-vpn}
  - {a: C, b: A, capacity: 1e9, delay: 0.004, one_way: true, state: down}
"""


def _write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file(tmp_path: Path) -> None:
    topo = load(str(_write(tmp_path, GOOD)))
    assert topo.name == "small"
    assert [n.index for n in topo.nodes.values()] == [1, 7, 2]
    assert topo.node("C").role == "branch" and topo.node("C").max_sid_depth == 3
    (ab,) = [lk for lk in topo.links_between("A", "B") if lk.id == "A-B"]
    km = great_circle_km(31.23, 121.47, 39.90, 116.40)
    assert ab.delay_s == pytest.approx(km * 5e-6)
    assert ab.capacity_bps == 10e9 and ab.igp_metric == 10
    assert topo.reverse(ab) is not None
    parallel = topo.link(("B", "A", "A-B-2"))
    assert parallel.capacity_bps == 1.5e9 and parallel.delay_s == pytest.approx(7e-3)
    assert parallel.srlgs == {"duct-1"} and parallel.affinities == {"red"}
    bc = topo.link(("C", "B", "B-C"))
    assert (bc.igp_metric, bc.te_metric, bc.medium) == (30, 99, "mpls-vpn")
    ca = topo.link(("C", "A", "C-A"))
    assert topo.reverse(ca) is None and ca.state is LinkState.DOWN
    assert any("no reverse" in w for w in topo.warnings)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load(str(_write(tmp_path, text)))
    return info.value.problems


def test_every_problem_is_listed_with_element_and_fix(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """\
name: bad
nodes:
  - {name: A}
  - {name: B, colour: blue}
links:
  - {a: A, b: B, capacity: -5G, delay: 1ms}
  - {a: A, b: Z, capacity: 1G, delay: 1ms}
  - {a: A, b: B, capacity: 10 parsecs, delay: 1ms, id: x}
  - {a: A, b: B, delay: 1ms, id: y}
""",
    )
    text = "\n".join(problems)
    assert "node 'B' (nodes[1]).colour: unknown field" in text
    assert "link 'A-B' (links[0]).capacity: must be more than zero, got '-5G'" in text
    assert "link 'x' (links[2]).capacity: unknown unit 'parsecs'" in text
    assert "link 'y' (links[3]).capacity: required field is missing" in text
    assert len(problems) == 4


def test_semantic_problems_after_parsing(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """\
name: bad
nodes: [{name: A}, {name: B}, {name: A}]
links:
  - {a: A, b: Z, capacity: 1G, delay: 1ms}
  - {a: A, b: B, capacity: 1G, delay: 1ms}
  - {a: A, b: B, capacity: 1G}
  - {a: B, b: B, capacity: 1G, delay: 1ms, id: loop}
""",
    )
    text = "\n".join(problems)
    assert "link id 'A-B' is used by 2 links (A-B, A-B): give parallel links their own id" in text
    assert "no delay and an end without lat/lon" in text
    problems = _problems(
        tmp_path,
        """\
name: bad
nodes: [{name: A}, {name: B}, {name: A}]
links:
  - {a: A, b: Z, capacity: 1G, delay: 1ms}
  - {a: B, b: B, capacity: 1G, delay: 1ms, id: loop}
""",
    )
    text = "\n".join(problems)
    assert "node 'A' is defined 2 times" in text
    assert "unknown node 'Z'" in text
    assert "cannot connect a node to itself" in text


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nnodes:\n  - {name: A\n  - {name: B}\n")
    with pytest.raises(ValidationError) as info:
        load(str(path))
    assert str(info.value).startswith(f"{path}:4:")
    assert "YAML syntax error" in str(info.value)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nnodes: [{name: A}]\nname: y\n")
    with pytest.raises(ValidationError, match=r":3:1: YAML syntax error: duplicate key 'name'"):
        load(str(path))


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="expected a mapping"):
        load(str(_write(tmp_path, "- just\n- a list\n")))


def test_asymmetric_link_as_two_one_way_halves(tmp_path: Path) -> None:
    topo = load(
        str(
            _write(
                tmp_path,
                """\
name: asym
nodes: [{name: A}, {name: B}]
links:
  - {id: ab, a: A, b: B, capacity: 200M, delay: 1ms, one_way: true}
  - {id: ab, a: B, b: A, capacity: 150M, delay: 1ms, one_way: true}
""",
            )
        )
    )
    assert len(topo.physical_links()) == 1
    assert topo.link(("A", "B", "ab")).capacity_bps == 200e6
    assert topo.link(("B", "A", "ab")).capacity_bps == 150e6
    assert topo.warnings == ()


def test_missing_file() -> None:
    with pytest.raises(NotFoundError, match="file not found"):
        load("no/such/file.yaml")
