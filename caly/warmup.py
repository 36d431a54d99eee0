"""Make a fresh web worker ready before it takes requests, then hide its startup objects from the garbage collector.

CPython's cyclic collector stops every thread of the process (it holds the GIL) while it runs, and a full
collection walks every tracked object: in a worker that had served traffic, about 200,000, most of them the
modules, classes, functions and URL patterns loaded at start, which never become garbage. Under the
benchmark's load (bench/README.md) the four workers spent 28 full collections of 85–700 ms (median 230 ms)
in a minute, each one stalling whatever requests that worker had in flight.

`gc.freeze()` (Python 3.7+, meant for exactly this) moves everything alive at that point into a permanent
generation the collector never scans, so later full collections only walk what requests created. Loading
what the first requests would load lazily first (every URLconf and view module, the S3 signing client)
makes that set as complete as it can be.
"""

from __future__ import annotations

import gc
import logging

from django.urls import get_resolver

from recordings import storage

logger = logging.getLogger("caly.serve")


def prepare_worker() -> int:
    """Load the lazily loaded parts of the application, collect once, freeze; returns the objects frozen."""
    get_resolver().reverse_dict  # noqa: B018 - imports every URLconf and view module
    storage.prepare()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("Worker prepared: %s startup objects frozen out of garbage collection", frozen)
    return frozen
