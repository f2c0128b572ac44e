"""Despeckling an elevation grid before it is judged: a median over k x k cells.

A stereo mismatch lands as a single cell 0.1-0.3 m off its neighbours. Fused once at
close range it carries a small variance and passes the confidence test, and the step
layer (max - min over a 0.25 m window) then paints a lethal disc around it. A median
over 3 x 3 cells removes a speck of up to 4 cells, which is why elevation_mapping and
grid_map run a median filter on the height layer (grid_map's ``MedianFillFilter``)
before traversability. The rock detector (mapping/hazards.py) judges rocks on the same
3 x 3 median, so the two agree on what a rock is: a median also dulls a rock's top (a
hemispherical 0.15 m rock reads 0.14 m), and a speck is never one.

Unknown cells stay unknown; for the filter they take their nearest known height
(hazards.fill_unknown). Only the bounding box of the known cells is filtered.
"""
from __future__ import annotations

import cv2
import numpy as np

from mining_rover.mapping.hazards import check_median_window, fill_unknown


def despeckle(height: np.ndarray, window_cells: int = 3) -> np.ndarray:
    """Copy of ``height`` (HxW, m, NaN unknown) with each known cell replaced by the median
    of the ``window_cells`` x ``window_cells`` cells around it; ``window_cells`` 0 or 1
    returns an unfiltered copy. ValueError for a window other than 0, 1, 3 or 5 (OpenCV's
    float32 median goes to 5)."""
    k = check_median_window(window_cells, 'despeckle window')
    if k in (0, 1):
        return np.array(height, copy=True)
    h = np.asarray(height, dtype=np.float32)
    known = np.isfinite(h)
    out = h.copy()
    if not known.any():
        return out
    rows, cols = np.nonzero(known.any(axis=1))[0], np.nonzero(known.any(axis=0))[0]
    r0, r1 = max(0, rows[0] - k), min(h.shape[0], rows[-1] + k + 1)
    c0, c1 = max(0, cols[0] - k), min(h.shape[1], cols[-1] + k + 1)
    med = cv2.medianBlur(np.ascontiguousarray(fill_unknown(h[r0:r1, c0:c1]), dtype=np.float32), k)
    out[r0:r1, c0:c1] = np.where(known[r0:r1, c0:c1], med, np.nan)
    return out
