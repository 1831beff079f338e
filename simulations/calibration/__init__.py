"""Calibration: fit a model of the platform to measured load-test steps and predict other loads.

Pure maths over data, in three layers:
- descriptive fits: the Universal Scalability Law (`usl`), per-route service-time distributions
  (`service_time`), the readers of stepped-run directories (`step_run`), the platform profile TOML
  (`profile`), a one-station SimPy closed loop (`closed_loop`) and its load-dependent MVA (`mva`);
- the platform as a queueing network with its real structure (`platform_network`: per-route CPU and
  DB demands, workers, threads, the DB pool or SQLite's single writer), solved by exact and
  approximate multi-class MVA (`multiclass_mva`), a flow-equivalent server for the thread and
  connection limits (`flow_equivalent`), and a SimPy network for percentiles (`network_sim`);
- the fit-and-check loop: `calibrate`, `prediction`, `validation`, `report`.

Nothing here imports Locust or the app.
"""
