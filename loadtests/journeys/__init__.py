"""Journeys: locustfiles runnable with plain `locust -f`. `patient` is the reference booking
journey; `locustfile` plays it closed-model, `open_locustfile` open-model, `steps` in stepped
calibration runs; `bench/` holds the load-generator benchmark's variants."""
