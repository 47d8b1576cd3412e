"""Python's cyclic garbage collector paused around work that allocates millions of objects."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """The cyclic collector off inside the block, one collection at its end. WeasyPrint and
    matplotlib allocate millions of objects while drawing a report, and every full collection
    walked them and the whole run's heap again (~1-2 s CPU of a 15-page report's ~8 s). Nested
    uses keep the outermost one's state. No weasyprint import here: the pipeline may use it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


_frozen = False


@contextmanager
def collector_off_while_importing():
    """Yield `imported()`, to be called once the libraries a run needs are imported (verify
    imports most of them in a thread while the engine stages). Until then the cyclic collector is
    off: the imports make hundreds of thousands of objects that live as long as the process, and
    collections walked them while they were made. At `imported()` they are frozen (moved out of
    every later collection's reach: the report's collections walked them again) and the collector
    is back on. Together about 0.35 s of a 3,000-ride filing's 3.5 s. Once per process: later
    runs (a batch's) find the libraries imported and frozen, and the collector as they left it.
    What is garbage at the freeze stays: the imports' own leftovers, once."""
    global _frozen
    if _frozen or not gc.isenabled():
        yield lambda: None
        return
    gc.disable()

    def imported():
        global _frozen
        if not gc.isenabled():  # the first call: freeze, then collect again
            _frozen = True
            gc.freeze()
            gc.enable()

    try:
        yield imported
    finally:
        gc.enable()  # a run that failed before its imports were done: nothing frozen
