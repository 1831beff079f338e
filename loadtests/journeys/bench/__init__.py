"""Locustfiles of the load-generator benchmark (`surge bench loadgen`), one per variant."""
