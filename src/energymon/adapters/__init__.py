"""Port implementations: ``local/`` for one machine, ``aws/`` for the AWS runtime."""
