from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import UsageError
from controller.units import format_bandwidth, parse_bandwidth, parse_duration


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("10G", 10e9),
        ("250 Mbps", 250e6),
        ("1.5Gbit/s", 1.5e9),
        ("100", 100.0),
        (2e9, 2e9),
        ("1e3K", 1e6),
        ("40gbps", 40e9),
    ],
)
def test_parse_bandwidth(text: str, bps: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(bps)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20ms", 0.02), ("5us", 5e-6), ("1.5s", 1.5), ("2h", 7200.0), ("0.5", 0.5), ("3 min", 180.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["fast", "10 parsecs", "-5G", "G10", "", True])
def test_bad_bandwidth_names_the_field(bad: object) -> None:
    with pytest.raises(UsageError, match="--bw"):
        parse_bandwidth(bad, field="--bw")  # type: ignore[arg-type]


@given(st.floats(min_value=1, max_value=1e13, allow_nan=False))
def test_format_then_parse_is_close(bps: float) -> None:
    text = format_bandwidth(bps).replace(" ", "")
    assert parse_bandwidth(text) == pytest.approx(bps, rel=1e-3)
