"""What every sink shares: one-line error text, and the check that an output path can be written,
made when the sink is created (before any thread starts) and leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..types import RecordingError
from ..workers import reason


def one_line(err: BaseException) -> str:
    return " ".join(reason(err).split())


def to_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RecordingError(f"cannot create folder {folder}: {one_line(err)} (choose a writable "
                             "location)") from err


def check_output_file(path: Path, what: str, example: str) -> None:
    """Raises a one-line RecordingError now unless `path` can become the file that `what` (e.g.
    "record to") writes: not a folder, its folder creatable, the file creatable. A file made
    to check is removed again, so a failed start leaves no empty file behind."""
    if path.is_dir():
        raise RecordingError(f"cannot {what} {path}: it is a folder; give a file name like {path / example}")
    make_folder(path.parent)
    existed = path.exists()
    try:
        with open(path, "ab"):  # "a": an existing file is not truncated by the check
            pass
    except OSError as err:
        raise RecordingError(f"cannot {what} {path}: {one_line(err)} (check the folder is writable)") from err
    if not existed:
        path.unlink(missing_ok=True)
