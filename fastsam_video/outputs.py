"""Output paths, checked before anything heavy loads: a path that cannot be written fails in a
fraction of a second with one line, not after the model has loaded. Torch-free on purpose: the
command line calls it first; the sinks make the same checks when they open."""

from __future__ import annotations

from pathlib import Path

from .errors import RecordingError
from .workers import reason


def one_line(err: BaseException) -> str:
    return " ".join(reason(err).split())


def per_camera_path(path: str | Path | None, index: int, cameras: int) -> str | Path | None:
    """out.mp4 -> out-cam1.mp4 when there are several cameras (names never hold a URL)."""
    if path is None or cameras == 1:
        return path
    path = Path(path)
    return path.with_name(f"{path.stem}-cam{index + 1}{path.suffix}")


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


def check_outputs(record: str | Path | None, export_masks: str | Path | None, export_coco: str | Path | None,
                  cameras: int, *, segmented: bool = False) -> None:
    """Every camera's output paths, checked as the sinks will check them when they open. A
    segmented recording checks its own name pattern when it opens."""
    for index in range(cameras):
        if record and not segmented:
            check_output_file(Path(per_camera_path(record, index, cameras)), "record to", "rec.mp4")
        if export_coco:
            check_output_file(Path(per_camera_path(export_coco, index, cameras)), "export COCO JSON to", "coco.json")
        if export_masks:
            make_folder(Path(per_camera_path(export_masks, index, cameras)))
