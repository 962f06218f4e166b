"""What every sink shares: one-line error text, and the check that an output path can be written,
made when the sink is created (before any thread starts) and leaving nothing behind."""

from __future__ import annotations

import numpy as np

from ..outputs import check_output_file, make_folder, one_line  # noqa: F401 (the sinks' shared checks)


def to_numpy(array) -> np.ndarray:
    """An array-like as numpy; a torch tensor (on any device) is copied to the host, without this
    module importing torch."""
    return array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)
