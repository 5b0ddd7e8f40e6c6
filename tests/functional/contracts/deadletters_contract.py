"""DeadLetters port contract (SqliteDeadLetters, an SQS/S3 destination reader, ...).

Provide a ``dead_letters_factory`` fixture and ``from functional.contracts.deadletters_contract import *``.
"""

from __future__ import annotations

from collections.abc import Callable

from energymon.ports import DeadLetter, DeadLetters

DeadLettersFactory = Callable[[], DeadLetters]


def test_contract_given_letters_when_put_then_they_come_back_newest_first_with_everything_kept(
    dead_letters_factory: DeadLettersFactory,
) -> None:
    dlq = dead_letters_factory()
    assert dlq.count() == 0 and dlq.recent() == []
    letters = [
        DeadLetter("processor", "spoofed", "device_id 'a' does not match 'b'", b"{}", "shardId-0:1", {}, 10.0),
        DeadLetter("poller", "delivery_failed", "retries exhausted", b"\x00\xff", "shardId-0:2",
                   {"KinesisBatchInfo": {"batchSize": 1, "shardId": "shardId-0"}}, 11.0),
    ]
    dlq.put(letters)
    assert dlq.count() == 2
    assert dlq.recent() == letters[::-1]
    assert dlq.recent(limit=1) == [letters[1]]


def test_contract_given_a_letter_without_time_when_put_then_it_is_stamped(
    dead_letters_factory: DeadLettersFactory,
) -> None:
    dlq = dead_letters_factory()
    dlq.put([DeadLetter("bridge", "not_json", "payload is not JSON", b"x")])
    [letter] = dlq.recent()
    assert letter.at_s > 0 and letter.reason == "payload is not JSON"
