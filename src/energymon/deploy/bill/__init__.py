"""What the AWS runtime costs per month, per deployment profile, line by line, from a dated price table kept as data."""

from energymon.deploy.bill.model import (
    Assumption,
    CostLine,
    Deployment,
    Traffic,
    assumptions,
    estimate,
    free_tier_credits,
    load_prices,
    traffic,
)
from energymon.deploy.bill.profiles import FLEET_ALARMS, LEAN_ALARMS, PROFILES, Profile, profile_named

__all__ = ["FLEET_ALARMS", "LEAN_ALARMS", "PROFILES", "Assumption", "CostLine", "Deployment", "Profile", "Traffic",
           "assumptions", "estimate", "free_tier_credits", "load_prices", "profile_named", "traffic"]
