"""What the AWS runtime costs per month, line by line, from a dated price table kept as data."""

from energymon.deploy.bill.model import CostLine, Deployment, estimate, load_prices

__all__ = ["CostLine", "Deployment", "estimate", "load_prices"]
