"""Surge's recorder and options for any locustfile: `surge loadtest run` adds this file to
Locust's `-f` list, so a plain Locust file (HttpUser, FastHttpUser) that never imports `loadtests`
still gets the HDR histograms, the per-request log and the `--surge-*` options.

With `--surge-quit-after-stop S` (set by `surge loadtest run --web`) it also ends a web-UI run
S seconds after the test stops. It defines no user class; it imports the recorder under its one canonical module name, so a
journey file that imports `loadtests` too shares the same recorder.
"""

from __future__ import annotations

import gevent
from locust import events
from locust.runners import WorkerRunner

import loadtests.driver.recorder  # noqa: F401  (registers the listeners and the options)


@events.test_stop.add_listener
def _quit_after_stop(environment, **_kwargs) -> None:
    """`--web`: a run stopped at its end or from the browser ends the Locust process, so the
    surge goes on to its summary and verdict."""
    options = environment.parsed_options
    if options is None or options.surge_quit_after_stop < 0:
        return
    if environment.runner is None or isinstance(environment.runner, WorkerRunner):
        return
    gevent.spawn_later(options.surge_quit_after_stop, _quit, environment)


def _quit(environment) -> None:
    environment.runner.quit()
    if environment.web_ui is not None:  # the web UI's greenlet is Locust's main one
        environment.web_ui.stop()
