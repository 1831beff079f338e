"""The open-model driver: arrivals on a clock (`ArrivalUser`), the HDR recorder every Surge
locustfile shares, Surge's own Locust options, and a FIFO server whose latency is known (the
driver's yardstick). Modules that import Locust are imported on demand."""
