"""Simulated apartments: a realistic, seeded load profile with a cumulative energy counter.

The load is standby plus a fridge compressor cycling, kettle boils and cooking peaks around meals,
and evening lighting, sampled every second in the apartment's local time. The same seed and start
time always give the same samples. Pure: the MQTT publisher around it is adapters/mqtt/simulator.py.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import TYPE_CHECKING

from energymon.domain.reading import Reading
from energymon.domain.timebuckets import zone

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Apartment"]


class Apartment:
    """One apartment's meter. ``sample(ts_ms)`` must be called with increasing timestamps, 1 s apart."""

    def __init__(self, device_id: str, seed: int, tz_name: str = "UTC", energy_wh: float | None = None) -> None:
        self.device_id = device_id
        self.tz = zone(tz_name)
        self.rng = random.Random(f"{seed}:{device_id}")
        self.standby_w = 55 + self.rng.random() * 60
        self.fridge_w = 85 + self.rng.random() * 40
        self.fridge_period_s = 2400 + self.rng.randrange(900)
        self.fridge_on_s = 600 + self.rng.randrange(480)
        self.fridge_phase_s = self.rng.randrange(self.fridge_period_s)
        self.energy_wh = energy_wh if energy_wh is not None else 1_000_000 + self.rng.random() * 4_000_000
        self.last_ts_ms: int | None = None
        self.kettle_until_ms = 0
        self.kettle_w = 0.0
        self.hob_until_ms = 0
        self.hob_w = 0.0

    def _events(self, ts_ms: int, hour: float) -> float:
        morning = 6.5 <= hour < 9
        evening = 17 <= hour < 21.5
        kettle_rate = 1 / 1800 if (morning or evening) else 1 / 14400
        if ts_ms >= self.kettle_until_ms and self.rng.random() < kettle_rate:
            self.kettle_w = 1900 + self.rng.random() * 300
            self.kettle_until_ms = ts_ms + (150 + self.rng.randrange(90)) * 1000
        hob_rate = 1 / 900 if 18 <= hour < 19.5 else (1 / 7200 if 11.5 <= hour < 13 else 0.0)
        if ts_ms >= self.hob_until_ms and self.rng.random() < hob_rate:
            self.hob_w = 1000 + self.rng.random() * 1500
            self.hob_until_ms = ts_ms + (300 + self.rng.randrange(900)) * 1000
        load = self.kettle_w if ts_ms < self.kettle_until_ms else 0.0
        if ts_ms < self.hob_until_ms:
            # A hob's thermostat switches the plate on and off.
            load += self.hob_w if (ts_ms // 20_000) % 3 else 0.0
        return load

    def power_at(self, ts_ms: int) -> float:
        local = datetime.fromtimestamp(ts_ms / 1000, self.tz)
        hour = local.hour + local.minute / 60
        seconds = ts_ms // 1000
        power = self.standby_w + self.rng.gauss(0, 3)
        if (seconds + self.fridge_phase_s) % self.fridge_period_s < self.fridge_on_s:
            power += self.fridge_w
        if 18 <= hour < 23.5:
            power += 90 + 80 * math.sin((hour - 18) / 5.5 * math.pi)
        elif 6.5 <= hour < 8:
            power += 60
        power += self._events(ts_ms, hour)
        return round(max(power, 0.0), 1)

    def sample(self, ts_ms: int) -> Reading:
        power = self.power_at(ts_ms)
        if self.last_ts_ms is not None:
            self.energy_wh += power * (ts_ms - self.last_ts_ms) / 3_600_000
        self.last_ts_ms = ts_ms
        return Reading(self.device_id, ts_ms, power, round(self.energy_wh, 3))

    def samples(self, start_ms: int, count: int, step_ms: int = 1000) -> Iterator[Reading]:
        for i in range(count):
            yield self.sample(start_ms + i * step_ms)
