"""Where the model files, the demo clips and the caches are: no torch, no model library.

    bundled_weights()          the bundled model (the wheel's package data, else the checkout's weights/)
    bundled_onnx()             its ONNX export, shipped beside it (the CPU path without PyTorch), or None
    samples_dir()              the bundled clips and images (likewise)
    resolve_weights(model)     a local checkpoint for --model; FastSAM-s/-x are downloaded on first use
    cache_dir()                $FASTSAM_VIDEO_CACHE, else $XDG_CACHE_HOME/fastsam-video, else ~/.cache/fastsam-video

The wheel carries `weights/fastsam-video-n.pt` (and its `.onnx`) and `samples/` as `fastsam_video/_data/...`
(pyproject's force-include); a checkout finds them at the top of the repository. Downloaded
checkpoints go to `cache_dir()/weights`, never into the installed package; a checkout's
`weights/` is searched first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import WeightsError

PACKAGE_DATA = Path(str(resources.files(__package__) / "_data"))
REPO_ROOT = Path(__file__).resolve().parent.parent
# a source checkout (or an editable install), not an installed wheel in site-packages
CHECKOUT = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else None
BUNDLED_NAME = "fastsam-video-n.pt"
BUNDLED_ONNX_NAME = "fastsam-video-n.onnx"  # written by `python -m fastsam_video.engines.export`
ASSETS_URL = "https://github.com/ultralytics/assets/releases/download/v8.4.0/"
# Names ultralytics' own download path knows; "FastSAM.pt" is the original repo's name for -x.
DOWNLOADABLE = {"FastSAM-s.pt", "FastSAM-x.pt"} | {f"yolov8{s}-seg.pt" for s in "nsmlx"}
ALIASES = {"FastSAM.pt": "FastSAM-x.pt"}
CLIP_URL = ("https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt")


def cache_dir() -> Path:
    """$FASTSAM_VIDEO_CACHE, else $XDG_CACHE_HOME/fastsam-video, else ~/.cache/fastsam-video."""
    if os.environ.get("FASTSAM_VIDEO_CACHE"):
        return Path(os.environ["FASTSAM_VIDEO_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fastsam-video"


def data_path(relative: str) -> Path:
    """`relative` (e.g. "samples/clips") in the wheel's package data, else in the checkout."""
    packaged = PACKAGE_DATA / relative
    if packaged.exists() or CHECKOUT is None:
        return packaged
    return CHECKOUT / relative


def samples_dir() -> Path:
    return data_path("samples")


def demo_clip() -> Path:
    """The folder of the demo clip (video.mp4, prompts.json, Annotations/)."""
    return samples_dir() / "clips" / "crossing"


def download_dir() -> Path:
    """Where downloaded checkpoints go: the user's cache, never the installed package."""
    return cache_dir() / "weights"


def search_dirs() -> list[Path]:
    """Where checkpoints given by name are looked for, in order."""
    return ([CHECKOUT / "weights"] if CHECKOUT is not None else []) + [download_dir()]


def find_file(name: str) -> Path | None:
    """The first `name` in `search_dirs()`, else None."""
    return next((folder / name for folder in search_dirs() if (folder / name).is_file()), None)


def folder_for(name: str) -> Path:
    """The folder holding `name`, else the one a download of it goes to."""
    found = find_file(name)
    return found.parent if found is not None else download_dir()


def bundled_weights() -> Path:
    path = data_path(f"weights/{BUNDLED_NAME}")
    if not path.is_file():
        raise WeightsError(f"the bundled model {BUNDLED_NAME} is missing ({path}): restore it with "
                           "`git checkout weights/`, reinstall the package or retrain with "
                           "`python -m fastsam_video.training`")
    return path


def bundled_onnx() -> Path | None:
    """The shipped ONNX export of the bundled model, None when it is absent."""
    path = data_path(f"weights/{BUNDLED_ONNX_NAME}")
    return path if path.is_file() else None


def is_bundled(model: str | Path | None) -> bool:
    return model is None or str(model) in ("", "bundled", BUNDLED_NAME)


def locate_weights(model: str | Path | None) -> Path | None:
    """A local checkpoint for `model` (None = the bundled model); None for a downloadable name
    that is not here yet. Raises WeightsError for anything else that does not exist."""
    if is_bundled(model):
        return bundled_weights()
    path = Path(model).expanduser()
    if path.is_file():
        return path
    name = ALIASES.get(path.name, path.name)
    found = find_file(name)
    if found is not None or name in DOWNLOADABLE:
        return found
    raise WeightsError(f"model file not found: {model} (give a path to a .pt checkpoint, "
                       "FastSAM-s.pt / FastSAM-x.pt, or omit --model for the bundled model)")


def resolve_weights(model: str | Path | None) -> Path:
    """`locate_weights`, downloading known FastSAM / YOLOv8-seg names into `download_dir()`
    (ultralytics' own download path) when they are not here."""
    found = locate_weights(model)
    if found is not None:
        return found
    name = ALIASES.get(Path(model).name, Path(model).name)
    target = download_dir() / name
    try:
        from ultralytics.utils.downloads import attempt_download_asset

        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(attempt_download_asset(str(target)))
    except Exception as err:  # offline: ConnectionError; anything else reads the same to a user
        raise WeightsError(f"{name} is not in {' or '.join(f'{d}/' for d in search_dirs())} and could not be "
                           f"downloaded ({type(err).__name__}): download {ASSETS_URL}{name} into "
                           f"{target.parent}/") from None


# ---------------------------------------------------------------- which model is at work

def in_samples(source: str | Path) -> bool:
    """Whether `source` is one of the bundled samples (the data the bundled model was made for)."""
    try:
        path = Path(source).expanduser().resolve()
    except (OSError, ValueError):
        return False
    return any(path.is_relative_to(root.resolve()) for root in {samples_dir(), PACKAGE_DATA / "samples"})


def bundled_model_note(model: str | Path | None, sources: list[str | Path]) -> str | None:
    """One line when the bundled model runs on anything but the bundled samples, naming the fix."""
    if not is_bundled(model) or all(in_samples(s) for s in sources):
        return None
    found = find_file("FastSAM-s.pt")
    where = "downloaded on first use" if found is None else f"found in {found.parent}"
    return (f"note: the bundled model ({BUNDLED_NAME}) knows generated shapes only and masks blobs on real footage: "
            f"use --model FastSAM-s.pt ({where}; offline, put it in {search_dirs()[0]}/)")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint the program knows by name: what it is, where it is looked for, where it comes from."""

    name: str
    what: str
    flag: str
    url: str | None

    def folders(self) -> list[Path]:
        if self.name == BUNDLED_NAME:
            return [p for p in (PACKAGE_DATA / "weights", CHECKOUT and CHECKOUT / "weights") if p]
        return search_dirs()

    def path(self) -> Path | None:
        return next((f / self.name for f in self.folders() if (f / self.name).is_file()), None)


CHECKPOINTS = (
    Checkpoint(BUNDLED_NAME, "the bundled model: generated shapes only (the samples), not real footage",
               "the default", None),
    Checkpoint("FastSAM-s.pt", "FastSAM small (YOLOv8s-seg, 23 MB): real footage, fast", "--model FastSAM-s.pt",
               ASSETS_URL + "FastSAM-s.pt"),
    Checkpoint("FastSAM-x.pt", "FastSAM large (YOLOv8x-seg, 138 MB): real footage, best masks",
               "--model FastSAM-x.pt", ASSETS_URL + "FastSAM-x.pt"),
    Checkpoint("ViT-B-32.pt", "CLIP ViT-B/32 (338 MB): text prompts", "--text ... (--clip-model ViT-B/32)",
               CLIP_URL),
)


def models_report() -> str:
    """`fastsam-video models`: each known checkpoint, whether it is here, where it is looked for."""
    lines = []
    for checkpoint in CHECKPOINTS:
        path = checkpoint.path()
        state = "present" if path else "missing"
        lines.append(f"{checkpoint.name:<20} {state:<8} {checkpoint.what}; {checkpoint.flag}")
        if path:
            lines.append(f"{'':<29} file: {path}")
        else:
            lines.append(f"{'':<29} looked for in: {', '.join(f'{f}/' for f in checkpoint.folders())}")
        if checkpoint.url and not path:
            lines.append(f"{'':<29} downloaded on first use from {checkpoint.url}")
    lines.append(f"cache (downloads, ONNX exports): {cache_dir()}/  (set FASTSAM_VIDEO_CACHE to move it)")
    return "\n".join(lines)


__all__ = ["ASSETS_URL", "BUNDLED_NAME", "BUNDLED_ONNX_NAME", "CHECKPOINTS", "DOWNLOADABLE", "REPO_ROOT", "Checkpoint",
           "bundled_model_note", "bundled_onnx", "bundled_weights", "cache_dir", "data_path", "demo_clip", "download_dir",
           "find_file", "folder_for", "in_samples", "is_bundled", "locate_weights", "models_report", "resolve_weights",
           "samples_dir", "search_dirs"]
