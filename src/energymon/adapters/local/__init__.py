"""Local adapters: SQLite and plain folders under one data directory."""
