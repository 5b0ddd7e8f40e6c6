"""The archive's one-call NDJSON encoding writes the bytes of encoding each reading on its own."""

from __future__ import annotations

import gzip

import orjson
from hypothesis import given
from hypothesis import strategies as st

from energymon.adapters.local.archive import group_for_archive
from energymon.domain.reading import Reading

_numbers = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e16, -0.0, 5.0]))
_readings = st.builds(
    Reading, st.sampled_from(["apt-1", "b:c.d_e-f", "x}y", "},{"]), st.integers(0, 2**42), _numbers, _numbers,
    _numbers, _numbers, _numbers,
)


@given(st.lists(_readings, min_size=1, max_size=30))
def test_every_archive_line_is_the_reading_encoded_alone(readings: list[Reading]) -> None:
    # GIVEN any readings (device ids with braces included) WHEN a batch of them is archived
    objects = group_for_archive("shard-1-2", readings)
    # THEN each object, day by day, is one orjson-encoded reading per line, sorted by device and time
    lines = b"".join(gzip.decompress(body) for _, body in sorted(objects.items()))
    by_day = sorted(readings, key=lambda r: (r.ts_ms // 86_400_000, r.device_id, r.ts_ms))
    assert lines == b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in by_day)
