"""GIVEN any closed hour's minute rollups, WHEN packed into its hour item, THEN they come back exactly — and a
1 Hz hour fits with room to spare in the 1 KB write unit the hour item costs anyway."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from energymon.adapters.aws.packing import pack_minute_rows, unpack_minute_rows

HOUR = 1_796_000_400_000
peaks = st.one_of(st.none(), st.floats(0, 60_000, allow_nan=False), st.decimals(0, 60_000, places=3).map(float))


@given(st.lists(st.tuples(st.integers(0, 59), st.integers(0, 10**9), st.integers(0, 10**6), peaks,
                          st.integers(0, 600), st.integers(0, 50), st.integers(0, 10**6), st.integers(0, 600)),
                unique_by=lambda r: r[0], max_size=60))
def test_minute_rows_round_trip_exactly(rows: list[tuple[int, int, int, float | None, int, int, int, int]]) -> None:
    rows = sorted(((HOUR + m * 60_000, *rest) for m, *rest in rows), key=lambda r: r[0])  # type: ignore[misc]
    assert unpack_minute_rows(HOUR, pack_minute_rows(HOUR, rows)) == rows


def test_a_full_hour_at_1_hz_packs_small() -> None:
    rows = [(HOUR + m * 60_000, 3_000 + 17 * m, 0, 412.5 + m % 9, 60, 0, 0, 60) for m in range(60)]
    assert len(pack_minute_rows(HOUR, rows)) < 400
