"""Colour appearance: 216-bin BGR histograms on the work grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .patches import Patch


COLOR_LEVELS = 6  # per channel: 216-bin BGR histograms
_LEVEL = ((np.arange(256) * COLOR_LEVELS) >> 8).astype(np.uint8)


def color_bins(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 histogram bin of each pixel of a BGR uint8 image (215 at most)."""
    q = cv2.LUT(np.ascontiguousarray(image), _LEVEL)
    return (q[..., 0] * COLOR_LEVELS + q[..., 1]) * COLOR_LEVELS + q[..., 2]


def color_histograms(patches: list[Patch], bins: np.ndarray) -> np.ndarray:
    """(N, B) normalised colour histograms of the pixels under each work-grid patch; cost ~ windows."""
    size = COLOR_LEVELS ** 3
    out = np.zeros((len(patches), size), np.float32)
    h, w = bins.shape
    for row, patch in zip(out, patches):
        patch = patch.clipped(h, w)
        y1, x1, y2, x2 = patch.window
        counts = np.bincount(bins[y1:y2, x1:x2][patch.pixels], minlength=size)
        row[:] = counts / max(int(counts.sum()), 1)
    return out


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) histogram intersection in [0, 1]."""
    return np.minimum(a[:, None], b[None]).sum(-1)


def ring_histogram(mask: Patch, bins: np.ndarray, radius: int = 4) -> np.ndarray:
    """(B,) colour histogram of the band `radius` work pixels wide around a work-grid mask: what
    the object stands on, so a pixel can be told object or surroundings by its colour."""
    from .patches import Patch  # patches needs this module's histograms: imported late

    grown = mask.grown(radius)
    y1, x1, y2, x2 = grown.window
    band = Patch(grown.pixels.copy(), y1, x1)
    py1, px1, py2, px2 = mask.window
    band.pixels[py1 - y1:py2 - y1, px1 - x1:px2 - x1] &= ~mask.pixels
    return color_histograms([band], bins)[0]
