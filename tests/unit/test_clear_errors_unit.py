"""GIVEN a device id for ``energymon certs``, WHEN it is checked, THEN ids that are not device ids, or whose files
would be the CA's or the broker's, are refused with the reason; every other device id is accepted (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from energymon.deploy.certs import cert_paths, check_device_id
from energymon.domain.reading import DEVICE_ID_PATTERN
from energymon.errors import ConfigError

OWN_FILES = {p.name.casefold() for p in vars(cert_paths(Path("certs"))).values()}


@pytest.mark.parametrize(
    ("device_id", "files"),
    [("ca", "ca.crt and ca.key"), ("server", "server.crt and server.key"), ("CA", "ca.crt and ca.key"),
     ("sErVeR", "server.crt and server.key")],
)
def test_an_id_whose_files_are_the_cas_or_the_brokers_is_refused_naming_them(device_id: str, files: str) -> None:
    # GIVEN the name of the CA's or the broker's files, in any case (a case-insensitive disk aliases them)
    # WHEN it is checked as a device id
    with pytest.raises(ConfigError) as raised:
        check_device_id(device_id)
    # THEN the refusal names the files it would have been and what to do
    assert f"would be the files {files}" in str(raised.value)
    assert "choose another device id" in str(raised.value)


@pytest.mark.parametrize("device_id", ["", "apt/1", "apt 1", "apt-1#", "+", "-apt", ".hidden", "apt-1\n", "x" * 129])
def test_an_id_that_is_not_a_device_id_is_refused_saying_what_one_is(device_id: str) -> None:
    # GIVEN an id the pipeline would never accept on a topic
    # WHEN it is checked
    with pytest.raises(ConfigError) as raised:
        check_device_id(device_id)
    # THEN the refusal quotes it and says what a device id is made of
    assert repr(device_id) in str(raised.value)
    assert "letters, digits" in str(raised.value)


@given(st.from_regex(DEVICE_ID_PATTERN))
def test_every_other_device_id_is_accepted_and_owns_its_files(device_id: str) -> None:
    # GIVEN any id the pipeline accepts
    # WHEN it is checked
    if {f"{device_id}.crt".casefold(), f"{device_id}.key".casefold()} & OWN_FILES:
        # THEN the few that would alias the CA's or the broker's files are refused
        with pytest.raises(ConfigError):
            check_device_id(device_id)
    else:
        # THEN every other one is accepted
        check_device_id(device_id)


@pytest.mark.parametrize("device_id", ["energymon-bridge", "Energymon-Bridge"])
def test_a_service_identity_is_refused_when_the_caller_names_it(device_id: str) -> None:
    # GIVEN the bridge's identity, which the secure broker lets read every device's topics
    # WHEN it is checked as a device id by a caller that names the services
    with pytest.raises(ConfigError) as raised:
        check_device_id(device_id, services=("energymon-bridge",))
    # THEN it is refused with the reason
    assert "identity of a service" in str(raised.value)
    # AND without services (the runtime making the bridge's own certificate) it is an ordinary id
    check_device_id(device_id)
