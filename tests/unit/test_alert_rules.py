"""Alert rules from their settings tables: every problem refused naming the key and the reason."""

from __future__ import annotations

import pytest

from energymon.domain.alerts.rules import RuleError, parse_rules

KETTLE = {"name": "kettle-left-on", "kind": "power_above", "device": "apt-1", "threshold_w": 2000,
          "clear_w": 1800, "for_s": 60, "channels": ["hook"]}


def test_given_the_issue_example_when_parsed_then_every_key_is_kept() -> None:
    [rule] = parse_rules([KETTLE], {"hook"})
    assert (rule.name, rule.kind, rule.device, rule.threshold_w, rule.clear_w, rule.for_s, rule.channels,
            rule.critical) == ("kettle-left-on", "power_above", "apt-1", 2000.0, 1800.0, 60.0, ("hook",), False)
    assert rule.applies_to("apt-1") and not rule.applies_to("apt-2") and rule.instant


def test_given_powers_with_their_unit_when_parsed_then_they_are_watts() -> None:
    [rule] = parse_rules([KETTLE | {"threshold_w": "2.4 kW", "clear_w": "1800 W", "device": "*"}], {"hook"})
    assert (rule.threshold_w, rule.clear_w) == (2400.0, 1800.0) and rule.applies_to("anything")


@pytest.mark.parametrize(("change", "key", "reason"), [
    ({"kind": "power_sideways"}, "alerts.rules[0].kind", "unknown kind 'power_sideways'"),
    ({"threshold_w": "2000"}, "alerts.rules[0].threshold_w", "is not a power"),
    ({"threshold_w": True}, "alerts.rules[0].threshold_w", "must be a number of watts"),
    ({"threshold_w": -5}, "alerts.rules[0].threshold_w", "between 0 and 1000000"),
    ({"clear_w": 2500}, "alerts.rules[0].clear_w", "must not be above threshold_w"),
    ({"for_s": 0}, "alerts.rules[0].for_s", "between 1 and"),
    ({"channels": ["pager"]}, "alerts.rules[0].channels[0]", "unknown channel 'pager'"),
    ({"channels": "hook"}, "alerts.rules[0].channels", "must be a list"),
    ({"name": "a/b"}, "alerts.rules[0].name", "letters, digits"),
    ({"device": "apt-*"}, "alerts.rules[0].device", "a device id or \"*\""),
    ({"critical": "yes"}, "alerts.rules[0].critical", "true or false"),
    ({"threshold": 2000}, "alerts.rules[0].threshold", "needs its unit: write threshold_w"),
    ({"budget_kwh": 3}, "alerts.rules[0].budget_kwh", "unknown key for a power_above rule"),
])
def test_given_a_bad_rule_when_parsed_then_the_key_and_the_reason_are_named(change: dict[str, object], key: str,
                                                                           reason: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules([KETTLE | change], {"hook"})
    assert caught.value.key == key and reason in caught.value.reason, str(caught.value)
    assert str(caught.value).startswith(f"{key}: ")


def test_given_a_missing_threshold_or_kind_when_parsed_then_it_is_required() -> None:
    without = {k: v for k, v in KETTLE.items() if k != "threshold_w"}
    with pytest.raises(RuleError, match=r"alerts.rules\[0\].threshold_w: is required"):
        parse_rules([without], {"hook"})
    with pytest.raises(RuleError, match=r"alerts.rules\[0\].kind: is required"):
        parse_rules([{"name": "x"}], set())


def test_given_two_rules_with_one_name_when_parsed_then_the_second_is_refused() -> None:
    with pytest.raises(RuleError, match=r"alerts.rules\[1\].name: 'kettle-left-on' is already the name of "
                                        r"alerts.rules\[0\]"):
        parse_rules([KETTLE, KETTLE], {"hook"})


@pytest.mark.parametrize(("table", "message"), [
    ({"name": "n", "kind": "no_data"}, r"alerts.rules\[0\].for_s: is required"),
    ({"name": "b", "kind": "energy_budget"}, "exactly one of budget_kwh"),
    ({"name": "b", "kind": "energy_budget", "budget_kwh": 5, "budget_cost": 2}, "exactly one of budget_kwh"),
    ({"name": "b", "kind": "energy_budget", "budget_kwh": 5, "period": "week"}, r"period: must be \"day\""),
    ({"name": "b", "kind": "energy_budget", "budget_kwh": 5, "warn_at": 1.5}, r"warn_at: must be between"),
    ({"name": "l", "kind": "base_load_above"}, "needs threshold_w .watts. or percent_of_median"),
    ({"name": "l", "kind": "base_load_above", "threshold_w": 90, "night_start": "5:00"}, "night_start: must be"),
    ({"name": "l", "kind": "base_load_above", "threshold_w": 90, "night_start": "05:00", "night_end": "01:00"},
     "night_end: must be after"),
    ({"name": "u", "kind": "unusual_day", "weeks": 1}, r"weeks: must be between 2"),
    ({"name": "u", "kind": "unusual_day", "weeks": 2.5}, r"weeks: must be a whole number"),
])
def test_given_bad_time_driven_rules_when_parsed_then_refused_clearly(table: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rules([table], set())


def test_given_every_kind_with_defaults_when_parsed_then_they_load() -> None:
    rules = parse_rules([
        {"name": "off", "kind": "no_data", "for_s": 600},
        {"name": "base", "kind": "base_load_above", "percent_of_median": 150},
        {"name": "day", "kind": "energy_budget", "budget_cost": 4.5, "period": "month"},
        {"name": "odd", "kind": "unusual_day", "k": 2.5, "min_kwh": 0.5},
        {"name": "low", "kind": "power_below", "threshold_w": 5, "clear_w": 20, "critical": True},
    ], set())
    assert [r.unit for r in rules] == ["s", "W", "cost", "kWh", "W"]
    assert rules[1].median_days == 28 and rules[1].percentile == 10 and rules[2].warn_at == 0.8
