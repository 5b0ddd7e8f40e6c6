"""Alert state, history and outbox in the readings' DynamoDB table: a state change and its rows, one transaction.

Item layout (beside dynamodb_items.py's ``D#<device>``, ``DEVICES`` and ``CHECKPOINT#<consumer>`` partitions;
every alert partition starts with ``ALERT#``, which no reading key can)::

    pk = ALERT#STATE    sk = <rule>#<device>           the (rule, device)'s IncidentState as JSON ``s``,
                                                       version ``v`` (the conditional-write guard)
    pk = ALERT#HISTORY  sk = <notification key>        one sent (or recorded) notification: JSON ``b``,
                                                       device ``d``, time ``t`` (ms)
    pk = ALERT#OUTBOX   sk = <notification key>#<channel>  the (key, channel) row for good: body ``b``,
                                                       created ``c``, sent ``st`` — what makes a replay add nothing
    pk = ALERT#DUE      sk = <notification key>#<channel>  the same row while not yet sent: body ``b``, attempts
                                                       ``a``, next attempt ``na`` (s), last error ``e``, created ``c``

Rule and channel names cannot hold ``#`` (rules.py, notify/config.py), so both sort keys split unambiguously.
``due`` is one query of the small ``ALERT#DUE`` partition; ``sent`` deletes the row from it in the same
transaction that stamps the ``ALERT#OUTBOX`` row. The history partition is read whole and sorted by time: a home
makes a few notifications a day, so it stays small (a TTL on it is a later option).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.aws.dynamodb_items import n
from energymon.domain.alerts.notification import Notification
from energymon.domain.alerts.state import IncidentState
from energymon.errors import StoreError
from energymon.ports import AlertEvent, AlertOutbox, AlertState, OutboxItem

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["ALERT_DUE", "ALERT_HISTORY", "ALERT_OUTBOX", "ALERT_STATE", "DynamoDBAlerts"]

ALERT_STATE = "ALERT#STATE"
ALERT_HISTORY = "ALERT#HISTORY"
ALERT_OUTBOX = "ALERT#OUTBOX"
ALERT_DUE = "ALERT#DUE"

Item = dict[str, Any]
_TRANSACT_MAX = 100  # TransactWriteItems' item limit
_RACE_RETRIES = 3  # another writer added one of our new rows between our read and our transaction


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> Item:
    return {"pk": _s(pk), "sk": _s(sk)}


def _row_sk(key: str, channel: str) -> str:
    return f"{key}#{channel}"


class DynamoDBAlerts(AlertState, AlertOutbox):
    def __init__(self, table_name: str, client: DynamoDBClient | None = None, *, clock: Any = time.time) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table = table_name
        self.client = client
        self.clock = clock

    # ------------------------------------------------------------------------------------------ state
    def get(self, rule: str, device_id: str) -> IncidentState | None:
        item = self.client.get_item(TableName=self.table, Key=_key(ALERT_STATE, f"{rule}#{device_id}"),
                                    ConsistentRead=True).get("Item")
        return None if item is None else _state(item)

    def states(self) -> list[IncidentState]:
        found = [_state(item) for item in self._query(ALERT_STATE)]
        return sorted(found, key=lambda s: (s.rule, s.device_id))

    def put(self, state: IncidentState, expected_version: int, notifications: Sequence[Notification] = (),
            outbox: Sequence[OutboxItem] = ()) -> bool:
        data = state.to_dict()
        data.pop("version", None)
        state_put: Item = {
            "TableName": self.table,
            "Item": {**_key(ALERT_STATE, f"{state.rule}#{state.device_id}"), "s": _s(orjson.dumps(data).decode()),
                     "v": n(expected_version + 1), "rule": _s(state.rule), "d": _s(state.device_id)},
        }
        if expected_version == 0:
            state_put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            state_put["ConditionExpression"] = "v = :v"
            state_put["ExpressionAttributeValues"] = {":v": n(expected_version)}
        history = {n_.key: n_ for n_ in notifications}  # a key once, even if given twice
        rows = {(i.key, i.channel): i for i in outbox}
        for _ in range(_RACE_RETRIES):
            # Rows already there are left out: inside a transaction a failed attribute_not_exists would cancel
            # the state change too. What is new is still written with that condition, so a race adds nothing.
            new_history = self._missing(ALERT_HISTORY, list(history))
            new_rows = self._missing(ALERT_OUTBOX, [_row_sk(k, c) for k, c in rows])
            writes: list[Any] = [{"Put": state_put}]
            for key in new_history:
                writes.append({"Put": self._new(self._history_item(history[key], state.updated_at_ms))})
            now = self.clock()
            for sk in new_rows:
                key, _, channel = sk.rpartition("#")
                writes += [{"Put": self._new(item)} for item in self._row_items(rows[(key, channel)], now)]
            if len(writes) > _TRANSACT_MAX:
                raise StoreError(f"alert state change of {state.rule} on {state.device_id} needs {len(writes)} "
                                 f"writes; one DynamoDB transaction takes at most {_TRANSACT_MAX}")
            try:
                self.client.transact_write_items(TransactItems=writes)
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                if not reasons or reasons[0].get("Code") in ("ConditionalCheckFailed", "TransactionConflict"):
                    # The state moved on, or another transaction is writing it (AWS: TransactionConflict; moto
                    # never reports that): nothing was written, the evaluator re-reads and decides again.
                    return False
                if any(r.get("Code") not in ("None", "ConditionalCheckFailed") for r in reasons):
                    raise StoreError(f"alert state change of {state.rule} on {state.device_id} was cancelled: "
                                     f"{[r.get('Code') for r in reasons]}") from None
                continue  # only a new row lost a race: read again which rows exist, and retry
            return True
        raise StoreError(f"alert state change of {state.rule} on {state.device_id}: outbox rows kept changing "
                         f"under it ({_RACE_RETRIES} attempts)")

    def history(self, device_id: str | None = None, limit: int = 50) -> list[AlertEvent]:
        items = [i for i in self._query(ALERT_HISTORY) if device_id is None or i["d"]["S"] == device_id]
        items.sort(key=lambda i: (int(i["t"]["N"]), i["sk"]["S"]), reverse=True)
        return [AlertEvent(Notification(**orjson.loads(i["b"]["S"])), int(i["t"]["N"])) for i in items[:limit]]

    # ----------------------------------------------------------------------------------------- outbox
    def add(self, items: Sequence[OutboxItem]) -> int:
        added = 0
        now = self.clock()
        for item in {(i.key, i.channel): i for i in items}.values():
            record, due = self._row_items(item, now)
            writes: Any = [{"Put": self._new(record)}, {"Put": self._new(due)}]
            try:
                self.client.transact_write_items(TransactItems=writes)
            except self.client.exceptions.TransactionCanceledException:
                continue  # the (key, channel) row exists (sent or not): nothing changes
            added += 1
        return added

    def due(self, now_s: float, limit: int = 100) -> list[OutboxItem]:
        rows = [r for r in self._due_rows() if r[1].next_attempt_s <= now_s]
        return [row for _, row in sorted(rows, key=lambda r: (r[0], r[1].key, r[1].channel))[:limit]]

    def pending(self) -> list[OutboxItem]:
        return [row for _, row in sorted(self._due_rows(), key=lambda r: (r[0], r[1].key, r[1].channel))]

    def sent(self, key: str, channel: str, at_s: float) -> None:
        sk = _row_sk(key, channel)
        try:
            self.client.transact_write_items(TransactItems=[
                {"Delete": {"TableName": self.table, "Key": _key(ALERT_DUE, sk),
                            "ConditionExpression": "attribute_exists(pk)"}},
                {"Update": {"TableName": self.table, "Key": _key(ALERT_OUTBOX, sk),
                            "UpdateExpression": "SET st = :at", "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":at": n(float(at_s))}}},
            ])
        except self.client.exceptions.TransactionCanceledException:
            return  # already sent (a second dispatcher got there first) or never added: nothing to mark

    def failed(self, key: str, channel: str, error: str, next_attempt_s: float) -> None:
        self._update_due(key, channel, "SET a = a + :one, e = :e, na = :na",
                         {":one": n(1), ":e": _s(error[:1000]), ":na": n(float(next_attempt_s))})

    def defer(self, key: str, channel: str, until_s: float, reason: str) -> None:
        # Quiet hours are not a failed attempt: the attempt count (and so the backoff) stays as it is.
        self._update_due(key, channel, "SET e = :e, na = :na", {":e": _s(reason[:1000]), ":na": n(float(until_s))})

    # ---------------------------------------------------------------------------------------- helpers
    def _update_due(self, key: str, channel: str, expression: str, values: Item) -> None:
        try:
            self.client.update_item(TableName=self.table, Key=_key(ALERT_DUE, _row_sk(key, channel)),
                                    UpdateExpression=expression, ConditionExpression="attribute_exists(pk)",
                                    ExpressionAttributeValues=values)
        except self.client.exceptions.ConditionalCheckFailedException:
            return  # sent meanwhile: a sent row stays sent

    def _new(self, item: Item) -> Item:
        return {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}

    def _history_item(self, notification: Notification, at_ms: int) -> Item:
        fields = {name: getattr(notification, name) for name in Notification.__dataclass_fields__}
        return {**_key(ALERT_HISTORY, notification.key), "b": _s(orjson.dumps(fields).decode()),
                "d": _s(notification.device_id), "t": n(at_ms)}

    def _row_items(self, item: OutboxItem, now: float) -> tuple[Item, Item]:
        sk = _row_sk(item.key, item.channel)
        body = _s(orjson.dumps(item.body).decode())
        record = {**_key(ALERT_OUTBOX, sk), "b": body, "c": n(float(now))}
        due = {**_key(ALERT_DUE, sk), "b": body, "c": n(float(now)), "a": n(item.attempts),
               "na": n(float(item.next_attempt_s)), "e": _s(item.last_error)}
        return record, due

    def _due_rows(self) -> list[tuple[float, OutboxItem]]:
        out = []
        for i in self._query(ALERT_DUE):
            key, _, channel = i["sk"]["S"].rpartition("#")
            out.append((float(i["c"]["N"]), OutboxItem(key, channel, orjson.loads(i["b"]["S"]), int(i["a"]["N"]),
                                                       float(i["na"]["N"]), i["e"]["S"])))
        return out

    def _missing(self, pk: str, sks: list[str]) -> list[str]:
        """Which of ``sks`` have no item in partition ``pk`` (strongly consistent reads)."""
        if not sks:
            return []
        found: set[str] = set()
        for start in range(0, len(sks), 100):
            keys = [_key(pk, sk) for sk in sks[start:start + 100]]
            request: Any = {self.table: {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "sk"}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                found |= {i["sk"]["S"] for i in response.get("Responses", {}).get(self.table, [])}
                request = response.get("UnprocessedKeys") or None
        return [sk for sk in sks if sk not in found]

    def _query(self, pk: str) -> Iterator[Item]:
        kwargs: Any = {"TableName": self.table, "KeyConditionExpression": "pk = :pk",
                       "ExpressionAttributeValues": {":pk": _s(pk)}, "ConsistentRead": True}
        while True:
            page = self.client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _state(item: Item) -> IncidentState:
    values = orjson.loads(item["s"]["S"])
    values["version"] = int(item["v"]["N"])
    return IncidentState.from_dict(values)
