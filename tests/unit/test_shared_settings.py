"""The shared settings model: per-device fallbacks, the TOML form, and every bad key named by its path."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from energymon.config import load_settings
from energymon.domain.energy import EnergyParams
from energymon.errors import ConfigError
from energymon.processing.compose import params_resolver, zone_resolver
from energymon.shared_settings import SharedSettings

if TYPE_CHECKING:
    from pathlib import Path

FLAT = {"currency": "EUR", "periods": [{"from": "2026-01-01", "price_per_kwh": "0.30"}]}
USD = {"currency": "USD", "periods": [{"from": "2026-01-01", "price_per_kwh": "0.17"}]}


def test_given_a_device_with_some_keys_then_the_others_fall_back_to_the_defaults() -> None:
    shared = SharedSettings(timezone="Europe/Berlin", tariff=FLAT, max_power_w=40_000, max_gap_s=600, jitter_wh=2,
                            devices={"apt-1": {"max_power_w": 3000, "tariff": USD, "label": "Flat 1"},
                                     "apt-2": {"timezone": "America/New_York"}})
    assert shared.zone_of("apt-1") == "Europe/Berlin" and shared.zone_of("apt-2") == "America/New_York"
    assert shared.zone_of("never-configured") == "Europe/Berlin"
    assert shared.energy_params_of("apt-1") == EnergyParams(3000, 600_000, 2)
    assert shared.energy_params_of("apt-2") == shared.energy_params_of("other") == EnergyParams(40_000, 600_000, 2)
    tariff_1, tariff_2 = shared.tariff_of("apt-1"), shared.tariff_of("apt-2")
    assert tariff_1 is not None and tariff_1.currency == "USD"
    assert tariff_2 is not None and tariff_2.currency == "EUR" and tariff_2 is shared.default_tariff()
    assert (shared.label_of("apt-1"), shared.label_of("apt-2")) == ("Flat 1", None)
    # The processor's resolvers answer the same
    assert zone_resolver(shared)("apt-2") == "America/New_York" and zone_resolver(shared)("x") == "Europe/Berlin"
    assert params_resolver(shared)("apt-1").max_power_w == 3000 and params_resolver(shared)("x").max_power_w == 40_000


def test_given_the_document_form_then_it_round_trips_and_terraform_nulls_mean_unset() -> None:
    shared = SharedSettings(tariff=FLAT, devices={"apt-1": {"label": "Flat 1", "tariff": USD}})
    assert SharedSettings.from_document(shared.document(), "doc") == shared
    # Terraform renders unset optional attributes as null, also inside a tariff table
    rendered = {"timezone": "UTC", "tariff": {"currency": "EUR", "name": None, "periods": [
        {"from": "2026-01-01", "to": None, "price_per_kwh": "0.30", "standing_charge_per_day": None,
         "windows": None}]}, "devices": {"apt-1": {"timezone": None, "label": "Flat 1", "max_power_w": None}}}
    loaded = SharedSettings.from_document(rendered, "doc")
    assert loaded.zone_of("apt-1") == "UTC" and loaded.energy_params_of("apt-1") == EnergyParams()
    tariff = loaded.tariff_of("apt-1")
    assert tariff is not None and tariff.periods[0].price_per_kwh == Decimal("0.30")


@pytest.mark.parametrize(("document", "message"), [
    ({"devices": {"apt-1": {"max_power_w": 0}}}, "devices.apt-1.max_power_w: Input should be greater than 0"),
    ({"devices": {"apt-1": {"jitter_wh": -1}}}, "devices.apt-1.jitter_wh: Input should be greater than or equal"),
    ({"devices": {"apt-1": {"timezone": "Mars/Base"}}}, "devices.apt-1.timezone: Value error, unknown time zone"),
    ({"devices": {"apt-1": {"tariff": {"currency": "euro", "periods": []}}}},
     "devices.apt-1.tariff: Value error, currency: 'euro' is not an ISO 4217 code"),
    ({"devices": {"apt-1": {"label": "two\nlines"}}}, "devices.apt-1.label: Value error, must be 1 to 64 printable"),
    ({"devices": {"apt-1": {"label": "x" * 65}}}, "devices.apt-1.label: Value error, must be 1 to 64"),
    ({"devices": {"apt/1": {}}}, "devices: Value error, device id 'apt/1' is not valid"),
    ({"devices": {"apt-1": {"max_power": 5}}}, "devices.apt-1.max_power: Extra inputs are not permitted"),
    ({"alert": {"rules": []}}, "alert: Extra inputs are not permitted"),  # a misspelt section
])
def test_given_a_bad_document_then_the_error_names_the_key_path(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="^s3://b/config/settings.json: ") as caught:
        SharedSettings.from_document(document, "s3://b/config/settings.json")
    assert message in str(caught.value)


def test_given_devices_tables_in_toml_then_the_shared_settings_carry_them(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "Europe/Amsterdam"\nmax_power_w = 30000\n'
                      '[device_timezones]\n"apt-2" = "Asia/Kolkata"\n'
                      '[devices."apt-1"]\nlabel = "Flat 1"\nmax_gap_s = 900\n'
                      '[devices."apt-1".tariff]\ncurrency = "EUR"\n'
                      '[[devices."apt-1".tariff.periods]]\nfrom = 2026-01-01\nprice_per_kwh = "0.30"\n')
    shared = load_settings(config, data_dir=tmp_path).shared_settings()
    assert shared.label_of("apt-1") == "Flat 1"
    assert shared.energy_params_of("apt-1") == EnergyParams(30_000, 900_000, 1.0)
    # device_timezones (the older form) is merged into devices
    assert shared.zone_of("apt-2") == "Asia/Kolkata" and shared.zone_of("apt-1") == "Europe/Amsterdam"
    tariff = shared.tariff_of("apt-1")
    assert tariff is not None and tariff.currency == "EUR" and shared.tariff_of("apt-2") is None


@pytest.mark.parametrize(("toml", "message"), [
    ('[devices."apt-1"]\nmax_power_w = -5\n', "devices.apt-1.max_power_w: Input should be greater than 0"),
    ('[devices."apt-1"]\nmax_powr_w = 5\n', "devices.apt-1.max_powr_w: Extra inputs are not permitted"),
    ('[devices."apt-1"]\ntimezone = "Nowhere/Town"\n', "devices.apt-1.timezone: Value error, unknown time zone"),
    ('[devices."apt 1"]\nlabel = "x"\n', "devices: Value error, device id 'apt 1' is not valid"),
    ('[devices."apt-1".tariff]\ncurrency = "EUR"\n', "devices.apt-1.tariff: Value error, periods: expected"),
    ('[device_timezones]\n"apt-1" = "Asia/Tokyo"\n[devices."apt-1"]\ntimezone = "Europe/Paris"\n',
     "device_timezones.apt-1 ('Asia/Tokyo') conflicts with devices.apt-1.timezone ('Europe/Paris')"),
])
def test_given_a_bad_devices_table_then_the_error_names_the_key_path(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=f"^config file {config}: ") as caught:
        load_settings(config, data_dir=tmp_path)
    assert message in str(caught.value)


def test_given_the_same_zone_in_both_forms_then_it_is_no_conflict(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[device_timezones]\n"apt-1" = "Asia/Tokyo"\n[devices."apt-1"]\ntimezone = "Asia/Tokyo"\n')
    assert load_settings(config, data_dir=tmp_path).shared_settings().zone_of("apt-1") == "Asia/Tokyo"


def test_given_alert_rules_in_the_document_then_they_are_validated_like_the_toml() -> None:
    doc = {"alerts": {"rules": [{"name": "hot", "kind": "power_above", "device": "*", "threshold_w": 10,
                                 "for_s": 60, "channels": ["nope"]}], "channels": []}}
    with pytest.raises(ConfigError, match="nope"):
        SharedSettings.from_document(doc, "s3://bucket/config/settings.json")
