"""A regular grid of cells over a bounding box: the lookup tables the engine reads points in
(``boundary.CrsGrid``: inside bits per coordinate reading; ``districts.DistrictGrid``: the
district of a cell). Only the cells an outline crosses need the exact test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CellGrid:
    """Cells of ``n`` x ``n`` over the box (x0, y0)-(x1, y1), row-major (cell j*n + i holds
    x in [x0 + i/sx, ...), y in [y0 + j/sy, ...))."""

    x0: float
    y0: float
    x1: float
    y1: float
    n: int
    cells: np.ndarray

    @property
    def sx(self) -> float:
        return self.n / (self.x1 - self.x0)

    @property
    def sy(self) -> float:
        return self.n / (self.y1 - self.y0)

    def __post_init__(self):
        self.cells.setflags(write=False)  # grids are cached and shared (Boundary.crs_grid)
