"""Surge's recorder and options for any locustfile: `surge loadtest run` adds this file to
Locust's `-f` list, so a plain Locust file (HttpUser, FastHttpUser) that never imports `loadtests`
still gets the HDR histograms, the per-request log and the `--surge-*` options.

It defines no user class; it imports the recorder under its one canonical module name, so a
journey file that imports `loadtests` too shares the same recorder.
"""

from __future__ import annotations

import loadtests.driver.recorder  # noqa: F401  (registers the listeners and the options)
