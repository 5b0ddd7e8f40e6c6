"""Issue 9, hostile input: a short fuzz campaign through a real Mosquitto into ``energymon run``.

A few thousand hostile messages (random bytes, truncated and deeply nested JSON, huge numbers, Infinity/NaN,
absurd timestamps, wrong types, unicode and NUL in ids and topics, spoofed ids, oversized payloads, too many
samples, empty payloads, duplicate keys, poisoned and replayed honest messages), deterministic from a seed, are
interleaved with the known series of three honest meters. The generator and the harness are in
``tests/fuzzgen.py``; ``python -m benchmarks --only fuzz`` runs the full campaign (≥ 100,000 messages).
"""

from __future__ import annotations

import time

import pytest

import fuzzgen

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SEED = 20_261_201
HOSTILE = 4_000
HONEST_PER_DEVICE = 40  # 400 s of 1 Hz samples per honest meter, then a final batch of 10 messages each


def test_the_generator_is_deterministic_and_covers_every_kind():
    # GIVEN one seed and one clock
    now_ms = 1_796_000_000_000
    # WHEN the campaign's messages are generated twice
    first, t0 = fuzzgen.generate(SEED, HOSTILE, HONEST_PER_DEVICE, now_ms)
    second, t0_again = fuzzgen.generate(SEED, HOSTILE, HONEST_PER_DEVICE, now_ms)
    # THEN they are the same bytes on the same topics, in the same order
    assert (t0, [(m.topic, m.payload) for m in first]) == (t0_again, [(m.topic, m.payload) for m in second])
    # AND every hostile kind is there, and each honest meter's series is complete and in order
    kinds = {m.kind for m in first}
    assert set(fuzzgen.KINDS) <= kinds
    for device in fuzzgen.HONEST:
        seqs = [m.payload for m in first if m.honest == device.device_id]
        assert seqs == [fuzzgen.honest_message(device, t0, n).payload for n in range(HONEST_PER_DEVICE)]
    # AND the series' timestamps are in the past, but inside the plausible-age window
    last_ms = t0 + (HONEST_PER_DEVICE + 10) * fuzzgen.SAMPLES_PER_MESSAGE * 1000
    assert now_ms - 3_600_000 < t0 < last_ms < now_ms


def test_hostile_traffic_loses_nothing_stalls_nothing_and_leaves_honest_energy_exact(mosquitto, tmp_path):
    # GIVEN a private Mosquitto set up as the README requires (max_queued_messages 0) and `energymon run`
    # bridged to it as a subprocess, as a user runs it
    mosquitto.extra_config = "allow_anonymous true\nmax_queued_messages 0"
    broker = mosquitto.start()
    messages, t0 = fuzzgen.generate(SEED, HOSTILE, HONEST_PER_DEVICE, int(time.time() * 1000))

    # WHEN the hostile messages and the honest series are published interleaved (QoS 1), then, once all of it
    # is settled, a final batch of honest messages (bounded waits: a stall fails the test, it does not hang)
    campaign = fuzzgen.run_campaign(tmp_path / "data", broker.url, broker.port, messages, t0, HONEST_PER_DEVICE,
                                    settle_timeout_s=90, final_timeout_s=30, log_path=tmp_path / "runtime.log")
    acc = campaign.accounting
    assert acc is not None

    # THEN the campaign really was hostile: most messages were dead-lettered, some refused by the broker itself
    assert acc.sent > HOSTILE * 0.9
    assert acc.counts.bridge > HOSTILE / 2
    # AND every promise held, which the accounting checks message by message:
    # - sent (PUBACKed on energy/+/telemetry) = stream records + bridge dead letters (no trimming);
    # - every stream record is processed (its readings in store.db) or dead-lettered by the processor, lag 0;
    # - no reading in the store comes from a rejected message;
    # - every message the contract rejects is dead-lettered, every one it accepts is stored;
    # - each honest meter's kWh, as `energymon query` shows it, is exactly (readings - 1) × Wh per second;
    # - the final batch arrived, /healthz says ok, and Ctrl-C stops the runtime cleanly (exit 0, lag 0)
    assert acc.problems == [], (
        f"{len(acc.problems)} broken promise(s):\n- " + "\n- ".join(acc.problems)
        + f"\n\nwhere each message ended:\n{acc.table()}\n\nruntime log (tail):\n"
        + (campaign.runtime.output(tail=4000) if campaign.runtime else ""))
    # AND by hand: 500 readings 1 s apart are 499 s; at 1800, 3600 and 900 W that is 249.5, 499 and 124.75 Wh
    assert {d: (got, samples) for d, (got, _, samples, _) in acc.honest.items()} == {
        "honest-1": (249_500, 500), "honest-2": (499_000, 500), "honest-3": (124_750, 500)}
