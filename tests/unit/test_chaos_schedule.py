"""The nemesis's schedule is a function of the seed alone, and keeps its own rules: faults
overlap at most two at a time, never two on one target or two on Redis, and every one heals
before the workload ends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.nemesis import (
    CLUSTER,
    COMPOSE,
    COMPOSE_SERVICES,
    INSTANT,
    MAX_AT_ONCE,
    ON_REDIS,
    STANDALONE,
    schedule,
)


def test_one_seed_one_schedule_and_another_seed_another() -> None:
    first = schedule(7, 60, 0.25, cluster=False)
    assert first == schedule(7, 60, 0.25, cluster=False)
    assert first != schedule(8, 60, 0.25, cluster=False)
    assert len(first) >= 5


@pytest.mark.parametrize(("cluster", "kinds"), [(False, STANDALONE), (True, CLUSTER)])
def test_the_deployment_decides_the_kinds(cluster: bool, kinds: dict[str, int]) -> None:
    drawn = {f.kind for seed in range(30) for f in schedule(seed, 60, 0.4, cluster=cluster)}
    assert drawn == set(kinds)


@given(seed=st.integers(0, 10**6), cluster=st.booleans())
def test_faults_keep_the_rules(seed: int, cluster: bool) -> None:
    faults = schedule(seed, 45, 0.5, cluster=cluster)
    for fault in faults:
        assert fault.at >= 2
        assert fault.end <= 45 - 3
        assert (fault.duration == 0) == (fault.kind in INSTANT)
        overlapping = [f for f in faults if f is not fault and f.at <= fault.at <= f.end + 1.0]
        assert len(overlapping) < MAX_AT_ONCE
        assert all(f.target != fault.target for f in overlapping)
        if fault.kind in ON_REDIS:
            assert all(f.kind not in ON_REDIS for f in overlapping)


def test_on_the_docker_stack_the_engines_faults_on_its_containers() -> None:
    faults = [f for seed in range(30) for f in schedule(seed, 60, 0.4, cluster=False, compose=True)]
    assert {f.kind for f in faults} == set(COMPOSE)
    for fault in faults:
        expected = {"redis-kill": "redis", "redis-pause": "redis", "smtp-down": "smtp"}
        assert fault.target == expected.get(fault.kind, fault.target)
        if fault.kind not in expected:
            assert fault.target in COMPOSE_SERVICES


def test_no_faults_at_rate_zero() -> None:
    assert schedule(1, 60, 0, cluster=False) == []


def test_only_the_kinds_asked_for() -> None:
    faults = schedule(3, 60, 0.5, cluster=False, only={"drop", "cut"})
    assert faults
    assert {f.kind for f in faults} <= {"drop", "cut"}
    with pytest.raises(ValueError, match="no fault kind"):
        schedule(3, 60, 0.5, cluster=False, only={"failover"})
