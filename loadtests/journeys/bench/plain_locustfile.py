"""Reference: plain Locust FastHttpUser in a tight loop, no checks, no Surge listeners."""

from locust import FastHttpUser, constant, task

import loadtests.journeys.bench.cpu_clock  # noqa: F401  (CPU seconds per variant)


class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="trivial")
