"""The IoT box's device agent: read a meter, keep every reading in SQLite, publish over mutual TLS."""

from __future__ import annotations

from energymon.agent.buffer import Buffer
from energymon.agent.config import AgentConfig, load_agent_config
from energymon.agent.publisher import DryRunTransport, MqttTransport
from energymon.agent.service import DeviceAgent, build_message
from energymon.agent.sources import P1Source, RelaySource, SimulatorSource, build_source
from energymon.agent.status import AgentStatus

__all__ = [
    "AgentConfig",
    "AgentStatus",
    "Buffer",
    "DeviceAgent",
    "DryRunTransport",
    "MqttTransport",
    "P1Source",
    "RelaySource",
    "SimulatorSource",
    "build_message",
    "build_source",
    "load_agent_config",
]
