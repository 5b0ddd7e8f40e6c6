"""The read side: the one query service the CLI, the API, the dashboard, the status table and alerts call."""
