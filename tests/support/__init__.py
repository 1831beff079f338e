"""Test-side helpers shared by several suites (importable as `support` under importlib mode)."""
