"""Verdicts as pure functions: the SLO gate (`slo`) and the comparison with a baseline
(`compare`)."""
