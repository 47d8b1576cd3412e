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
