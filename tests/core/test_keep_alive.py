"""Ollama keep_alive parsing: durations, seconds, negative = forever, nonsense = ValueError."""

from __future__ import annotations

import math

import pytest

from hailo_services.core.keep_alive import FOREVER, parse_keep_alive


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("300ms", 0.3),
        ("30s", 30.0),
        ("1.5h", 5400.0),
        ("2h3m4s", 7384.0),
        ("0", 0.0),
        (0, 0.0),
        ("10", 10.0),
        (10, 10.0),
        (2.5, 2.5),
        ("2.5", 2.5),
        (" 5m ", 300.0),
        ("1500us", 0.0015),
        ("1500µs", 0.0015),
    ],
)
def test_durations_and_seconds(value, seconds):
    got = parse_keep_alive(value)
    assert got is not None
    assert got == pytest.approx(seconds)
    assert isinstance(got, float)


@pytest.mark.parametrize("value", [-1, -0.5, "-1", "-1m", "-1h30m", "-300ms"])
def test_negative_means_forever(value):
    assert parse_keep_alive(value) is FOREVER
    assert FOREVER is None


@pytest.mark.parametrize("value", ["", "   ", "5x", "m", "-", "5m5", "abc", "5 m", "1h-30m", "ms5", "--1m"])
def test_invalid_strings_raise(value):
    with pytest.raises(ValueError, match="keep_alive"):
        parse_keep_alive(value)


@pytest.mark.parametrize("value", [True, False])
def test_bool_rejected(value):
    with pytest.raises(ValueError, match="keep_alive must be a duration"):
        parse_keep_alive(value)


def test_none_rejected():
    with pytest.raises(ValueError, match="missing"):
        parse_keep_alive(None)


@pytest.mark.parametrize("value", ["nan", "inf", "-nan", math.nan, math.inf])
def test_non_finite_values_rejected(value):
    with pytest.raises(ValueError):
        parse_keep_alive(value)
