"""The ranges AWS allows for a Kinesis event source mapping (``aws_lambda_event_source_mapping``).

One definition for the settings model and the local poller (Terraform's ``validation`` blocks state the same).
"""

from __future__ import annotations

__all__ = [
    "BATCHING_WINDOW_S", "BATCH_SIZE", "MAX_RECORD_AGE_S", "MAX_RETRY_ATTEMPTS", "UNLIMITED", "mapping_problems",
    "record_age_ok",
]

UNLIMITED = -1  # retries / record age: until the record expires from the stream
BATCH_SIZE = (1, 10_000)
BATCHING_WINDOW_S = (0, 300)
MAX_RETRY_ATTEMPTS = (UNLIMITED, 10_000)
MAX_RECORD_AGE_S = (60, 604_800)  # or UNLIMITED


def record_age_ok(value: float) -> bool:
    return value == UNLIMITED or MAX_RECORD_AGE_S[0] <= value <= MAX_RECORD_AGE_S[1]


def mapping_problems(batch_size: int, batching_window_s: float, max_retry_attempts: int,
                     max_record_age_s: float) -> list[str]:
    """What is out of range, one sentence per setting; empty when AWS would accept the mapping."""
    problems = []
    lo, hi = BATCHING_WINDOW_S
    age_lo, age_hi = MAX_RECORD_AGE_S
    if not BATCH_SIZE[0] <= batch_size <= BATCH_SIZE[1]:
        problems.append(f"batch_size must be {BATCH_SIZE[0]}–{BATCH_SIZE[1]}, got {batch_size}")
    if not lo <= batching_window_s <= hi:
        problems.append(f"batching_window_s must be {lo}–{hi} seconds, got {batching_window_s}")
    if not MAX_RETRY_ATTEMPTS[0] <= max_retry_attempts <= MAX_RETRY_ATTEMPTS[1]:
        problems.append(f"max_retry_attempts must be -1 or 0–{MAX_RETRY_ATTEMPTS[1]}, got {max_retry_attempts}")
    if not record_age_ok(max_record_age_s):
        problems.append(f"max_record_age_s must be -1 or {age_lo}–{age_hi}, got {max_record_age_s}")
    return problems
