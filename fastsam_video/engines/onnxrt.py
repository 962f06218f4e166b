"""The ONNX Runtime backend: the model on its CPU provider with numpy / OpenCV around it.

`OnnxSegmenter` runs the ONNX export of a checkpoint (shipped beside the bundled model, or the
one `export` cached on an earlier run) with no PyTorch, torchvision or ultralytics in the process
(they take seconds to import). `OnnxForward` is the same network under `pytorch.Segmenter(backend=
"onnx")`, which exports the model first when there is no file yet.

Threading suits a small shared CPU: intra-op threads = the cores this process may use,
sequential execution, all graph optimizations, and no spin-waiting (spinning pool threads
steal the core that the decode / encode threads and other processes need: measured 0.7x).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..assets import cache_dir, resolve_weights
from ..decoding import CpuSegmenterBase
from ..types import WeightsError
from .export import (HINT, INPUT_NAME, OUTPUT_NAMES, SOURCE_KEY, STRIDE, BackendError, cpu_cores, export_path,
                     find_onnx, sha256_of, write_export)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


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


class OnnxSegmenter(CpuSegmenterBase):
    """One model owner on ONNX Runtime (CPU): load, warm up, segment(frame | batch) -> Segmentation."""

    backend = "onnx"
    precision = "fp32 onnx"

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, half: bool | None = None,
                 imgsz: int | None = None, conf: float | None = None, iou: float | None = None,
                 max_det: int = 300, retina: bool = True, warmup: bool = True, backend: str = "onnx",
                 onnx_path: str | Path | None = None, threads: int | None = None):
        if device not in (None, "", "cpu"):
            raise WeightsError(f"the ONNX engine runs on the CPU, not {device!r}: use --device cpu or --backend torch")
        if half:
            raise WeightsError("half precision needs a GPU: drop --half or use --device cuda")
        if backend not in ("onnx", "auto"):
            raise BackendError(f"OnnxSegmenter runs the onnx backend, not {backend!r}: use pytorch.Segmenter")
        self.weights = resolve_weights(model)
        path = Path(onnx_path) if onnx_path is not None else find_onnx(self.weights)
        if path is None or not path.is_file():
            raise WeightsError(f"no ONNX export of {self.weights.name} here yet: run once with --backend onnx "
                               f"(exports it into {cache_dir()}/) or use --backend torch")
        self.onnx_path = path
        self._set_settings(imgsz, conf, iou, max_det, retina)
        self.stride = STRIDE
        self.threads = threads or cpu_cores()
        self.session = self._open(path)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()[:2]]
        self.num_classes = self.classes_from_outputs(path)
        if warmup:
            self.warmup()

    def _open(self, path: Path):
        import_onnxruntime()
        try:
            session = onnx_session(path, self.threads)
        except Exception as err:
            raise WeightsError(f"{path} is not a readable ONNX model ({type(err).__name__}): delete it and run with "
                               "--backend onnx to export it again, or use --backend torch") from None
        source = session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
        if source is not None and source != sha256_of(self.weights):
            raise WeightsError(f"{path} was exported from another {self.weights.name} (retrained?): re-export it "
                               "with `python -m fastsam_video.engines.export` or use --backend torch")
        return session

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network alone: (B, 3, h, w) float32 -> (raw (B, 4 + nc + 32, A), prototypes (B, 32, h/4, w/4))."""
        raw, proto = self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(batch, np.float32)})
        return raw, proto


class OnnxForward:
    """The network on ONNX Runtime's CPU provider: `(batch) -> (raw, proto)` float32 numpy arrays,
    exported from `model` the first time. `exported` says whether this construction exported it
    (False: the cache was reused); `path` is the cached .onnx file."""

    def __init__(self, model: torch.nn.Module, weights_path: str | Path | None = None,
                 cache_dir: str | Path | None = None, threads: int | None = None, spin: bool = False):
        self.ort = import_onnxruntime()
        self.threads = threads or cpu_cores()
        self.path = export_path(model, weights_path, cache_dir)
        self.exported = False
        self.export_s = 0.0
        self.session = None
        if self.path.is_file():
            try:
                self.session = onnx_session(self.path, self.threads, spin)
            except Exception as err:  # a damaged cache file: export again
                log.warning("cached %s does not open (%s): exporting again", self.path, type(err).__name__)
        if self.session is None:
            start = time.perf_counter()
            self.session = write_export(model, self.path, lambda f: onnx_session(f, self.threads, spin), self.runner)
            self.exported, self.export_s = True, time.perf_counter() - start

    @staticmethod
    def runner(session):
        """`session` as a forward function: (B, 3, h, w) float32 -> (raw, proto)."""
        return lambda x: tuple(session.run(list(OUTPUT_NAMES), {INPUT_NAME: x}))

    def __call__(self, batch) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, h, w) float input (numpy or a CPU tensor) -> (raw, proto)."""
        x = np.ascontiguousarray(np.asarray(batch, dtype=np.float32))
        raw, proto = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        return raw, proto

    def __repr__(self) -> str:
        return f"OnnxForward({self.path.name}, onnxruntime {self.ort.__version__}, {self.threads} threads)"
