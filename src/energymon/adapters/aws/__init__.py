"""AWS adapters: each takes an injected boto3 client (Powertools style), so tests point them at moto."""
