"""Surge: load testing and capacity simulation for vaccination-campaign booking surges."""

__version__ = "0.1.0"
