"""MQTT: client helpers, the embedded broker and its device policy, the bridge (the IoT topic rule),
a simulated meter."""
