"""Consumption alerts: pure rules, incident states and the notifications they produce (no I/O here)."""
