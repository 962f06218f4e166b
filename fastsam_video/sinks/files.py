"""What every sink shares: one-line error text, and the check that an output path can be written,
made when the sink is created (before any thread starts) and leaving nothing behind."""

from __future__ import annotations

import numpy as np
import torch

from ..outputs import check_output_file, make_folder, one_line  # noqa: F401 (the sinks' shared checks)


def to_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
