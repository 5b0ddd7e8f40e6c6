"""``python -m energymon.runtimes.cli``."""

from energymon.runtimes.cli import main

main()
