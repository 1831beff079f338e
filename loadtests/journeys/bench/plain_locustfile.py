"""Reference: plain Locust FastHttpUser in a tight loop, no checks, no Surge listeners.

`Plain` keeps its keep-alive connection (pooled); `PlainNewConnection` makes each visit on a
connection of its own (`Connection: close`: the server closes it after the answer), the
connection policy of visitors arriving in the open model. The `Paced` variants send
`--bench-rate` requests/s in total (Locust's `constant_throughput`, shared by the -u users):
plain Locust at the rate the driver is measured at when it keeps up.
"""

import types

from locust import FastHttpUser, constant, constant_throughput, events, task

import loadtests.journeys.bench.cpu_clock  # noqa: F401  (CPU seconds per variant)

CLOSE = {"Connection": "close"}


class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="trivial")


class PlainNewConnection(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="trivial", headers=CLOSE)


@events.init_command_line_parser.add_listener
def _bench_rate(parser) -> None:
    parser.add_argument("--bench-rate", type=float, default=0.0,
                        help="Paced users: total requests/s")  # fmt: skip


def _paced(user: FastHttpUser) -> None:
    options = user.environment.parsed_options
    per_user = options.bench_rate / max(options.num_users or 1, 1)
    user.wait_time = types.MethodType(constant_throughput(per_user), user)


class PlainPaced(Plain):
    def on_start(self) -> None:
        _paced(self)


class PlainPacedNewConnection(PlainNewConnection):
    def on_start(self) -> None:
        _paced(self)
