"""Optimized CPU runtime for the network alone: ONNX Runtime in place of the PyTorch forward.

Only `Segmenter.forward` is replaced: letterboxing, NMS and mask decoding are `decoding`'s.
The fused model is exported to ONNX once, with dynamic batch / height / width (one file
serves every input shape: measured as fast as one static export per shape), checked against
the PyTorch outputs, and cached under ~/.cache/fastsam-video/ keyed by the checkpoint's
SHA-256 and the exporter versions. Later constructions only open the cached file, and
`cached_onnx(weights)` finds it without importing torch (`onnx_engine.OnnxSegmenter` runs it).

    forward = OnnxForward(model, weights_path)   # export or reuse, then an ORT session
    raw, proto = forward(batch)                  # (B, 4 + nc + 32, A), (B, 32, h/4, w/4) float32 numpy

Threading suits a small shared CPU: intra-op threads = the cores this process may use,
sequential execution, all graph optimizations, and no spin-waiting (spinning pool threads
steal the core that the decode / encode threads and other processes need: measured 0.7x).
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
from typing import TYPE_CHECKING

import numpy as np

from .assets import cache_dir as default_cache_dir  # $FASTSAM_VIDEO_CACHE or ~/.cache/fastsam-video
from .options import BACKENDS  # ("torch", "onnx", "auto"): one list for --backend and select_backend
from .types import WeightsError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

OPSET = 17  # ONNX Runtime >= 1.13 runs it all; a newer opset is no faster for these convolutions
EXPORT_VERSION = 1  # bump when the export below changes: old cache files are then ignored
INPUT_NAME, OUTPUT_NAMES = "images", ("raw", "proto")
HINT = "install onnxruntime and onnx (pip install onnxruntime onnx) or use --backend torch"


class BackendError(WeightsError):
    """The optimized runtime is not installed, or the model cannot be exported to it."""


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


def import_onnxruntime():
    """The onnxruntime module, or a BackendError naming the fix when it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        raise BackendError(f"the onnx backend needs onnxruntime, which is not installed: {HINT}") from None
    return onnxruntime


def onnx_session(path: str | Path, threads: int | None = None, spin: bool = False):
    """An ONNX Runtime CPU session on `path`, set for a small shared CPU (see the module's notes)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


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


class OnnxForward:
    """The network on ONNX Runtime's CPU provider: `(batch) -> (raw, proto)` float32 numpy arrays.

    `exported` says whether this construction exported the model (False: the cache was reused);
    `path` is the cached .onnx file."""

    def __init__(self, model: torch.nn.Module, weights_path: str | Path | None = None,
                 cache_dir: str | Path | None = None, threads: int | None = None, spin: bool = False):
        self.ort = import_onnxruntime()
        self.threads = threads or cpu_cores()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        # a checkpoint file's export is where `cached_onnx` looks for it
        self.path = (cache_path(Path(weights_path), self.cache_dir) if weights_path is not None
                     else self.cache_dir / f"model-{model_digest(model)}.onnx")
        self.exported = False
        self.export_s = 0.0
        if self.path.is_file():
            try:
                self.session = self._open(self.path, spin)
            except Exception as err:  # a damaged cache file: export again
                log.warning("cached %s does not open (%s): exporting again", self.path, type(err).__name__)
                self.session = self._export_and_open(model, spin)
        else:
            self.session = self._export_and_open(model, spin)

    def _open(self, path: Path, spin: bool):
        return onnx_session(path, self.threads, spin)

    def _export_and_open(self, model: torch.nn.Module, spin: bool):
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp.touch()
        except OSError as err:
            raise BackendError(f"cannot write the ONNX cache in {self.cache_dir} ({err.strerror or err}): "
                               "set FASTSAM_VIDEO_CACHE to a writable folder or use --backend torch") from None
        start = time.perf_counter()
        try:
            export_onnx(model, tmp)
            session = self._open(tmp, spin)
            self.check(model, session)
            os.replace(tmp, self.path)  # atomic: a concurrent process sees no file or the whole file
        except BackendError:
            raise
        except Exception as err:
            detail = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
            raise BackendError(f"exporting {self.path.stem} to ONNX failed ({type(err).__name__}: {detail}): "
                               "use --backend torch") from None
        finally:
            tmp.unlink(missing_ok=True)
        self.exported = True
        self.export_s = time.perf_counter() - start
        self._prune()
        log.info("exported %s to ONNX in %.1f s: %s", self.path.stem, self.export_s, self.path)
        return session

    def _prune(self) -> None:
        """Drop older exports of a checkpoint with the same name (a retrained or replaced file)."""
        stem = self.path.stem.rsplit("-", 1)[0]
        for old in self.cache_dir.glob("*.onnx"):
            if old != self.path and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{16}\.onnx", old.name):
                log.info("removing the outdated ONNX export %s", old)
                old.unlink(missing_ok=True)

    @staticmethod
    def check(model: torch.nn.Module, session) -> None:
        """The exported graph gives PyTorch's outputs, at two input shapes (dynamic axes work)."""
        import torch

        generator = torch.Generator().manual_seed(0)
        for shape in ((1, 3, 256, 320), (2, 3, 320, 192)):
            x = torch.rand(shape, generator=generator)
            with torch.inference_mode():
                out = model(x)
            expected = out[0] if isinstance(out[0], tuple) else out
            got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x.numpy()})
            for name, want, have in zip(OUTPUT_NAMES, expected, got):
                have = torch.from_numpy(have)
                if have.shape != want.shape:
                    raise BackendError(f"the ONNX export gives {name} of shape {tuple(have.shape)} for input {shape}, "
                                       f"PyTorch {tuple(want.shape)}: use --backend torch")
                err = float((have - want).abs().max())
                if err > 1e-3 * (1 + float(want.abs().max())):
                    raise BackendError(f"the ONNX export differs from PyTorch by {err:.3g} in {name}: "
                                       "use --backend torch")

    def __call__(self, batch) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, h, w) float input (numpy or a CPU tensor) -> (raw, proto)."""
        x = np.ascontiguousarray(np.asarray(batch, dtype=np.float32))
        raw, proto = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        return raw, proto

    def __repr__(self) -> str:
        return f"OnnxForward({self.path.name}, onnxruntime {self.ort.__version__}, {self.threads} threads)"


def select_backend(backend: str, model: torch.nn.Module, weights: Path | None, device: torch.device,
                   cache_dir: str | Path | None = None) -> tuple[str, OnnxForward | None]:
    """(backend name, runtime or None for PyTorch) for Segmenter. "auto" = onnx on the CPU when
    onnxruntime is installed and the export works, else torch."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "torch" or (backend == "auto" and device.type != "cpu"):
        return "torch", None
    if device.type != "cpu":
        raise BackendError(f"the onnx backend runs on the CPU, not {device}: use --device cpu or --backend torch")
    try:
        return "onnx", OnnxForward(model, weights, cache_dir)
    except BackendError as err:
        if backend == "onnx":
            raise
        log.info("backend auto: using torch (%s)", err)
        return "torch", None
