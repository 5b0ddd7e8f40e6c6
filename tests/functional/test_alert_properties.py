"""Property: the same readings in any batch order, duplicated or replayed, give the same incidents and the same
outbox rows as one orderly delivery.

"Any order" is any order a stream produces while readings are late by less than the settle delay (30 s after a
minute ends, it is judged): batches overtake each other, records come twice, and whole batches are replayed
later with their original arrival time. Readings later than that are a backlog, which power rules must not fire
on (see test_alert_scenarios: the stale data guard) — so a backlog is not "the same readings" for this property.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energymon.domain.reading import parse_ts
from functional.alert_rig import Rig, Sample, steady

T = parse_ts("2026-11-27T12:00:00Z")
MIN = 60_000
RULES = [
    {"name": "kettle", "kind": "power_above", "device": "*", "threshold_w": 2000, "clear_w": 1800, "for_s": 60,
     "channels": ["hook"]},
    {"name": "idle", "kind": "power_below", "device": "*", "threshold_w": 150, "clear_w": 250, "for_s": 120,
     "channels": ["hook", "phone"]},
]


def outcome(rig: Rig) -> tuple[object, ...]:
    states = [(s.rule, s.device_id, s.status, s.started_at_ms, s.ended_at_ms) for s in rig.alerts.states()]
    return rig.outbox(), rig.notifications(), states


def samples_for(levels: list[int]) -> list[Sample]:
    """A minute per level (W), sampled every 10 s, then five quiet minutes."""
    powers = [*levels, 200, 200, 200, 200, 200]
    return steady("apt-1", T, T + len(powers) * MIN, lambda t: float(powers[min((t - T) // MIN, len(powers) - 1)]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_given_batches_reordered_duplicated_and_replayed_then_the_same_incidents_and_outbox(
        data: st.DataObject) -> None:
    levels = data.draw(st.lists(st.sampled_from([100, 140, 200, 2100, 2400]), min_size=3, max_size=8), label="levels")
    samples = samples_for(levels)
    # Batches of 1–2 consecutive samples, each arriving 0–19 s after its last one: every reading is at most 29 s
    # late, so batches overtake each other but a minute is complete when it is judged.
    sizes = data.draw(st.lists(st.integers(1, 2), min_size=len(samples), max_size=len(samples)), label="sizes")
    batches, i = [], 0
    for size in sizes:
        if i < len(samples):
            batches.append(samples[i:i + size])
            i += size
    late = st.sampled_from([0, 19_000]) | st.integers(0, 19_000)  # the extremes reorder most
    delays = data.draw(st.lists(late, min_size=len(batches), max_size=len(batches)))
    with tempfile.TemporaryDirectory() as tmp:
        reference = Rig(Path(tmp) / "reference", RULES)
        for s in samples:
            reference.send("apt-1", [s], s.ts_ms)
        shuffled = Rig(Path(tmp) / "shuffled", RULES)
        events = [(b[-1].ts_ms + d, shuffled.event("apt-1", b, b[-1].ts_ms + d)) for b, d in
                  zip(batches, delays, strict=True)]
        deliveries = sorted(events, key=lambda e: e[0])
        duplicated = data.draw(st.lists(st.integers(0, len(events) - 1), max_size=5), label="duplicates")
        for i, (_, event) in enumerate(deliveries):
            shuffled.deliver(event)
            if i in duplicated:
                shuffled.deliver(event)  # at-least-once: the same record again at once
        for _, event in data.draw(st.permutations(events), label="replay")[:5]:
            shuffled.deliver(event)  # replayed later, with its original arrival time
        assert outcome(shuffled) == outcome(reference)
