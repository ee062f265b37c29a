"""The bench's pure summaries (issue 27): the line through a growth curve, how flat a curve
stays, the spread of a ratio's repetitions, and the goal set against a floor of the same run."""

from __future__ import annotations

import math

import pytest

from bench.growth import flatness, linear_fit
from bench.report import build_results, spread


def test_a_straight_line_is_found_exactly() -> None:
    fit = linear_fit(
        [10_000, 100_000, 500_000], [0.5 + 2e-5 * n for n in (10_000, 100_000, 500_000)]
    )
    assert fit["slope"] == pytest.approx(2e-5)
    assert fit["intercept"] == pytest.approx(0.5)
    assert fit["r2"] == pytest.approx(1.0)


def test_points_off_a_line_lower_r2() -> None:
    straight = linear_fit([1, 2, 3, 4], [1, 2, 3, 4])
    bent = linear_fit([1, 2, 3, 4], [1, 4, 9, 16])
    assert straight["r2"] == pytest.approx(1.0)
    assert 0.9 < bent["r2"] < 1.0
    assert bent["slope"] == pytest.approx(5.0)


def test_a_line_needs_two_distinct_points() -> None:
    with pytest.raises(ValueError, match="two points"):
        linear_fit([3, 3], [1, 2])
    with pytest.raises(ValueError, match="two points"):
        linear_fit([1, 2], [1])


def test_flatness_is_the_last_point_over_the_first() -> None:
    assert flatness([0.5, 0.6, 0.55, 0.5]) == pytest.approx(1.0)
    assert flatness([0.5, 5.0, 50.0, 500.0]) == pytest.approx(1000.0)
    assert math.isnan(flatness([0.0, 1.0]))


def test_spread_leaves_out_what_was_not_measurable() -> None:
    assert spread([0.7, None, 0.9, 0.8]) == {"min": 0.7, "max": 0.9}
    assert spread([None]) is None


def test_a_ratio_goal_and_a_goal_against_the_floor_are_stored_with_met() -> None:
    samples = {
        "orders_projection_eps": [8_000.0, 9_000.0, 10_000.0],
        "baseline_required_eps": [10_000.0, 10_000.0, 10_000.0],
        "e2e_p99_ms": [9.0, 12.0, 30.0],
        "baseline_e2e_p99_ms": [6.0, 8.0, 9.0],
    }
    results = build_results(samples, {}, [], {})
    ratio = results["orders_over_required"]
    assert ratio["value"] == pytest.approx(0.9)
    assert ratio["spread"] == {"min": 0.8, "max": 1.0}
    assert (ratio["goal"], ratio["met"]) == (">= 0.8", True)
    e2e = results["targets"]["e2e_p99_ms"]
    assert e2e["limit"] == pytest.approx(13.0)  # the floor's median, 8, plus 5 ms
    assert e2e["met"] is True  # the median, 12
    samples["e2e_p99_ms"] = [14.0, 14.0, 14.0]
    assert build_results(samples, {}, [], {})["targets"]["e2e_p99_ms"]["met"] is False
