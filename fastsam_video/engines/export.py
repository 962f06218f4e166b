"""Export and caching: a checkpoint's ONNX file, written once and found again without PyTorch.

Only the network is exported: letterboxing, NMS and mask decoding are `decoding`'s. The fused
model goes to ONNX with dynamic batch / height / width (one file serves every input shape:
measured as fast as one static export per shape), checked against the PyTorch outputs, and is
cached under ~/.cache/fastsam-video/ keyed by the checkpoint's SHA-256 and the exporter
versions. The bundled model's file ships beside it. Every CPU engine runs that file (ONNX
Runtime directly; OpenVINO compiles it, and caches the compiled blob, INT8 variants included,
beside it); `find_onnx(weights)` looks it up without importing torch.

    python -m fastsam_video.engines.export   # (re)writes the shipped weights/fastsam-video-n.onnx (needs torch)
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import logging
import os
import re
import time
import uuid
import warnings
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..assets import BUNDLED_NAME, bundled_onnx, bundled_weights
from ..assets import cache_dir as default_cache_dir  # $FASTSAM_VIDEO_CACHE or ~/.cache/fastsam-video
from ..types import WeightsError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

OPSET = 17  # ONNX Runtime >= 1.13 runs it all; a newer opset is no faster for these convolutions
EXPORT_VERSION = 1  # bump when the export below changes: old cache files are then ignored
INPUT_NAME, OUTPUT_NAMES = "images", ("raw", "proto")
HINT = "install onnxruntime and onnx (pip install onnxruntime onnx) or use --backend torch"
STRIDE = 32  # YOLOv8's largest stride: inputs are padded to a multiple of it
SOURCE_KEY = "checkpoint_sha256"  # ONNX metadata of the shipped file: the checkpoint it was exported from


class BackendError(WeightsError):
    """A backend's runtime is not installed, or the model cannot be exported to it or run on it."""


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # macOS, Windows
        return max(os.cpu_count() or 1, 1)


def export_tag() -> str:
    """Everything besides the checkpoint that changes the exported graph. Package versions come
    from their metadata: nothing is imported (the CPU path looks its ONNX file up without torch)."""
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "none"

    return f"export{EXPORT_VERSION}|opset{OPSET}|torch{version('torch')}|ultralytics{version('ultralytics')}"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(weights: Path) -> str:
    """The cache key of a checkpoint file: SHA-256 of its bytes' SHA-256 and of `export_tag()`."""
    return hashlib.sha256(f"{sha256_of(weights)}|{export_tag()}".encode()).hexdigest()[:16]


def model_digest(model: torch.nn.Module) -> str:
    """The cache key of a model without a checkpoint file (`file_digest` keys those): SHA-256 of its
    tensors and of `export_tag()`."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(export_tag().encode())
    return h.hexdigest()[:16]


def cache_path(weights: Path, cache_dir: str | Path | None = None) -> Path:
    """Where the ONNX export of the checkpoint file `weights` is cached."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{weights.stem}-{file_digest(weights)}.onnx"


def cached_onnx(weights: str | Path, cache_dir: str | Path | None = None) -> Path | None:
    """The cached ONNX export of a checkpoint file, None when it was never exported (torch-free)."""
    path = cache_path(Path(weights), cache_dir)
    return path if path.is_file() else None


def export_onnx(model: torch.nn.Module, target: Path) -> None:
    """Write `model` (a fused ultralytics SegmentationModel) to `target` as ONNX with dynamic
    batch, height and width; outputs (raw predictions, prototypes) as `Segmenter.forward` gives them."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it to write the file)
    except ImportError:
        raise BackendError(f"exporting the model to ONNX needs the onnx package, which is not installed: {HINT}") \
            from None
    import torch
    from ultralytics.nn.modules import C2f, Detect

    model = copy.deepcopy(model).float().cpu().eval()
    for m in model.modules():  # the settings ultralytics' own Exporter makes for format="onnx", dynamic=True
        if isinstance(m, Detect):  # Segment included
            m.export, m.format, m.dynamic, m.shape = True, "onnx", True, None  # (y, proto); anchors in the graph
        elif isinstance(m, C2f):
            m.forward = m.forward_split
    dummy = torch.zeros(1, 3, 256, 320)  # not square, so height and width cannot be confused
    kwargs = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}  # torch>=2.4
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings, and torch>=2.9's note that this exporter is the legacy one
        torch.onnx.export(model, dummy, str(target), opset_version=OPSET, input_names=[INPUT_NAME],
                          output_names=list(OUTPUT_NAMES), do_constant_folding=True,
                          dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                                        OUTPUT_NAMES[0]: {0: "batch", 2: "anchors"},
                                        OUTPUT_NAMES[1]: {0: "batch", 2: "proto_height", 3: "proto_width"}},
                          **kwargs)




Forward = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]  # (B, 3, h, w) float32 -> (raw, proto)


def check_export(model: torch.nn.Module, forward: Forward) -> None:
    """The exported graph (run by `forward`) gives PyTorch's outputs, at two input shapes (dynamic axes work)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    for shape in ((1, 3, 256, 320), (2, 3, 320, 192)):
        x = torch.rand(shape, generator=generator)
        with torch.inference_mode():
            out = model(x)
        expected = out[0] if isinstance(out[0], tuple) else out
        got = forward(x.numpy())
        for name, want, have in zip(OUTPUT_NAMES, expected, got):
            have = torch.from_numpy(np.asarray(have))
            if have.shape != want.shape:
                raise BackendError(f"the ONNX export gives {name} of shape {tuple(have.shape)} for input {shape}, "
                                   f"PyTorch {tuple(want.shape)}: use --backend torch")
            err = float((have - want).abs().max())
            if err > 1e-3 * (1 + float(want.abs().max())):
                raise BackendError(f"the ONNX export differs from PyTorch by {err:.3g} in {name}: use --backend torch")


def export_path(model: torch.nn.Module, weights_path: str | Path | None, cache_dir: str | Path | None = None) -> Path:
    """Where `model`'s export is cached: keyed by its checkpoint file (where `cached_onnx` looks) or its tensors."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return (cache_path(Path(weights_path), folder) if weights_path is not None
            else folder / f"model-{model_digest(model)}.onnx")


def write_export(model: torch.nn.Module, path: Path, open_file: Callable[[Path], object],
                 forward_of: Callable[[object], Forward]):
    """Export `model` to `path` through a temporary file, opened with `open_file` and checked with
    `forward_of(opened)` against PyTorch, then moved into place atomically (a concurrent process
    sees no file or the whole file). Returns the opened file (a backend's session)."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.touch()
    except OSError as err:
        raise BackendError(f"cannot write the ONNX cache in {path.parent} ({err.strerror or err}): "
                           "set FASTSAM_VIDEO_CACHE to a writable folder or use --backend torch") from None
    start = time.perf_counter()
    try:
        export_onnx(model, tmp)
        opened = open_file(tmp)
        check_export(model, forward_of(opened))
        os.replace(tmp, path)
    except BackendError:
        raise
    except Exception as err:
        detail = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        raise BackendError(f"exporting {path.stem} to ONNX failed ({type(err).__name__}: {detail}): "
                           "use --backend torch") from None
    finally:
        tmp.unlink(missing_ok=True)
    prune_exports(path)
    log.info("exported %s to ONNX in %.1f s: %s", path.stem, time.perf_counter() - start, path)
    return opened


def prune_exports(path: Path) -> None:
    """Drop older exports of a checkpoint with the same name (a retrained or replaced file)."""
    stem = path.stem.rsplit("-", 1)[0]
    for old in path.parent.glob("*.onnx"):
        if old != path and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{16}\.onnx", old.name):
            log.info("removing the outdated ONNX export %s", old)
            old.unlink(missing_ok=True)


def is_bundled_file(weights: Path) -> bool:
    try:
        return weights.name == BUNDLED_NAME and weights.resolve() == bundled_weights().resolve()
    except WeightsError:
        return False


def find_onnx(weights: str | Path) -> Path | None:
    """The ONNX export of a checkpoint file: shipped (the bundled model) or cached; None if neither."""
    weights = Path(weights)
    shipped = bundled_onnx() if is_bundled_file(weights) else None
    return shipped or cached_onnx(weights)


def export_bundled(target: Path | None = None) -> Path:
    """Write the bundled model's ONNX file (needs torch, ultralytics, onnx and onnxruntime), with
    the SHA-256 of the checkpoint it came from in its metadata (a retrained checkpoint is then not
    run with it)."""
    import onnx

    from .onnxrt import OnnxForward, onnx_session
    from .pytorch import load_model

    weights = bundled_weights()
    target = target or weights.with_name(weights.stem + ".onnx")
    model = load_model(weights)
    export_onnx(model, target)
    proto = onnx.load(str(target))
    onnx.helper.set_model_props(proto, {SOURCE_KEY: sha256_of(weights)})
    onnx.save(proto, str(target))
    check_export(model, OnnxForward.runner(onnx_session(target)))
    return target


if __name__ == "__main__":
    written = export_bundled()
    print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")
