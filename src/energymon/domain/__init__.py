"""Pure domain: readings, wire format, energy derivation, time buckets. No I/O here."""
