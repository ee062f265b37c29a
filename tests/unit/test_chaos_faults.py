"""What chaos runs publish for the console (the contract in docs/chaos.md), and how a cluster
target finds the slot it serves."""

from __future__ import annotations

from eventkit import Event

from chaos.faults import FAULTS_STREAM, HEALED, INJECTED, fault_event
from chaos.layout import serves


def test_a_fault_event_is_an_envelope_with_the_documented_data() -> None:
    event = fault_event(INJECTED, "run-1", 7, "partition", "redis-2", {"delay_s": 0.2})
    fields = event.to_fields()
    assert FAULTS_STREAM == "{chaos}:faults"
    assert (fields["type"], fields["source"], fields["subject"]) == (
        "FaultInjected",
        "chaos",
        "redis-2",
    )
    assert fields["specversion"] == "1.0"
    back = Event.from_fields(fields)
    assert back.data == {
        "run": "run-1",
        "seed": 7,
        "kind": "partition",
        "target": "redis-2",
        "detail": {"delay_s": 0.2},
    }
    assert fault_event(HEALED, "run-1", 7, "partition", "redis-2", {}).type == "FaultHealed"


def test_a_node_serves_its_ranges_not_a_slot_in_migration() -> None:
    assert serves(["0-5460"], 5460)
    assert serves(["0-10", "12"], 12)
    assert not serves(["0-10", "12"], 11)
    assert not serves(["[11->-abc]"], 11)
