"""Calibration: fit a model of the platform to measured load-test steps and predict other loads.

Pure maths over data: the Universal Scalability Law, per-route service-time distributions, the
platform profile TOML, a SimPy closed-loop model and its exact MVA cross-check, and the readers of
stepped-run directories. Nothing here imports Locust or the app.
"""
