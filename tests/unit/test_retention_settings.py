"""GIVEN a raw retention in the settings, WHEN they load, THEN a value the processor cannot live with is refused
with the reason, and an acceptable one is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from energymon.config import load_settings
from energymon.errors import ConfigError
from energymon.processing.retention import DEFAULT_RAW_RETENTION_DAYS, minimum_raw_retention_days

if TYPE_CHECKING:
    from pathlib import Path


def test_the_default_keeps_raw_readings_ninety_days_which_covers_the_recompute_reach() -> None:
    settings = load_settings()
    assert settings.raw_retention_days == DEFAULT_RAW_RETENTION_DAYS == 90
    assert minimum_raw_retention_days(settings.retention_hours) == 44  # 35 days late + 7 days reach + 1 + 1


@pytest.mark.parametrize("days", [0, -1, -0.5])
def test_a_non_positive_retention_is_refused(days: float) -> None:
    with pytest.raises(ConfigError, match="raw_retention_days: .*must be a positive number of days"):
        load_settings(raw_retention_days=days)


def test_a_retention_shorter_than_the_recompute_reach_is_refused_in_a_file_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("raw_retention_days = 30\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    message = str(refused.value)
    assert message.startswith(f"config file {config}: raw_retention_days: ")
    assert "35 days late" in message and "use at least 44 days" in message


def test_a_longer_stream_retention_raises_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGYMON_RAW_RETENTION_DAYS", "60")
    assert load_settings().raw_retention_days == 60
    with pytest.raises(ConfigError, match="wait 720 hours in the stream.*use at least 73 days"):
        load_settings(retention_hours=720)
