"""The engines: one module per backend behind one small Protocol, and the one function that picks.

    pytorch.Segmenter           PyTorch: the reference, the GPU path (FP16), and the exporter
    onnxrt.OnnxSegmenter        ONNX Runtime on the CPU, no PyTorch in the process
    openvino.OpenVinoSegmenter  OpenVINO on the CPU (FP32, or INT8 from `quantize`), no PyTorch
    export                      the ONNX export and its cache, shared by the CPU engines

`open_engine(options)` is the only place that chooses; no module outside this package imports a
backend's library. Everything here is imported lazily: importing `engines` loads no backend.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..types import WeightsError

if TYPE_CHECKING:
    import numpy as np

    from ..decoding import NetworkOutput
    from ..options import ModelOptions
    from ..types import Segmentation

log = logging.getLogger(__name__)


@runtime_checkable
class SegmentationEngine(Protocol):
    """What the pipeline, the front ends and the benchmarks use of an engine."""

    backend: str  # "torch", "onnx" or "openvino"
    precision: str  # e.g. "fp16", "fp32 onnx", "int8 openvino"
    device_type: str  # "cpu", "cuda" or "mps"
    imgsz: int
    weights: Path

    def infer(self, images: list) -> NetworkOutput: ...  # letterbox + forward

    def decode(self, output: NetworkOutput) -> list[Segmentation]: ...  # NMS + masks

    def segment_batch(self, images: list[np.ndarray]) -> list[Segmentation]: ...

    def segment(self, image) -> Segmentation: ...


def apple_gpu_present() -> bool:
    """Apple silicon, where PyTorch runs the model on the GPU (MPS)."""
    import platform

    return platform.system() == "Darwin" and platform.machine() == "arm64"


def nvidia_gpu_present() -> bool:
    """Whether the NVIDIA driver sees a GPU, without importing torch (which takes seconds)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()


def on_cpu(options: ModelOptions) -> bool:
    return options.device == "cpu" or (not options.device and not nvidia_gpu_present() and not apple_gpu_present())


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def onnx_file(options: ModelOptions) -> Path | None:
    """The ONNX file a CPU engine without PyTorch would run, None when these options take the
    PyTorch engine (torch backend, a GPU, no export yet, neither CPU runtime installed)."""
    from ..assets import locate_weights
    from .export import find_onnx

    if not on_cpu(options) or options.backend == "torch" or not (installed("onnxruntime") or installed("openvino")):
        return None
    weights = locate_weights(options.model)  # raises the one-line error for a missing file
    if weights is None:  # a known name not downloaded yet: the PyTorch engine downloads it
        return None
    return find_onnx(weights)


def check_int8(options: ModelOptions) -> None:
    """--int8 and --bf16 run on OpenVINO on the CPU: anything else is refused with one line."""
    flag = "--int8" if options.int8 else "--bf16" if options.bf16 else None
    if flag is None:
        return
    if options.int8 and options.bf16:
        raise WeightsError("--int8 and --bf16 are two precisions of one model: pick one")
    if not on_cpu(options):
        raise WeightsError(f"{flag} runs on the CPU (OpenVINO); on a GPU the model runs in FP16: drop {flag} "
                           "or add --device cpu")
    if options.backend not in ("openvino", "auto"):
        what = "the INT8 model" if options.int8 else "in bfloat16"
        raise WeightsError(f"{flag} needs the openvino backend; {options.backend} cannot run {what}: "
                           f"use --backend openvino (or auto), or drop {flag}")
    needed = ("openvino", "nncf") if options.int8 else ("openvino",)
    if not all(installed(m) for m in needed):
        raise WeightsError(f"{flag} needs {' and '.join(needed)} (pip install {' '.join(needed)}): install "
                           f"{'them' if len(needed) > 1 else 'it'} or drop {flag}")


def open_engine(options: ModelOptions) -> SegmentationEngine:
    """Loads the model (seconds) on the engine `options` ask for. On the CPU with an ONNX file
    for the checkpoint (shipped for the bundled model, cached after one run for others): OpenVINO
    or ONNX Runtime, with no PyTorch in the process (auto: the one measured faster here, see
    `choice`); otherwise PyTorch, which exports the file on the CPU when the backend asks for it."""
    check_int8(options)
    kwargs = dict(device=options.device, imgsz=options.imgsz, conf=options.conf, iou=options.iou,
                  max_det=options.max_det, retina=options.retina)
    path = onnx_file(options)
    if path is None and on_cpu(options) and options.backend == "openvino":
        path = export_with_torch(options)  # no file yet: PyTorch writes it once, then OpenVINO runs it
    if path is not None:
        backend = options.backend
        note = ""
        if options.int8 or options.bf16:
            backend = "openvino"
        elif backend == "auto":
            from .choice import faster_cpu_backend

            backend, note = faster_cpu_backend(path, options.imgsz or default_imgsz(options))
        if backend == "openvino":
            from .openvino import OpenVinoSegmenter

            ir = None
            if options.int8:
                from .quantize import quantized_model

                ir = quantized_model(path, imgsz=options.imgsz or default_imgsz(options))
            engine = OpenVinoSegmenter(options.model, onnx_path=path, ir_path=ir, bf16=options.bf16, **kwargs)
        else:
            from .onnxrt import OnnxSegmenter

            engine = OnnxSegmenter(options.model, onnx_path=path, **kwargs)
        if note:
            engine.precision = f"{engine.precision} ({note})"
        return engine
    from .pytorch import Segmenter

    backend = "auto" if options.backend == "openvino" else options.backend
    return Segmenter(options.model, half=False if options.fp32 else None, backend=backend, **kwargs)


def default_imgsz(options: ModelOptions) -> int:
    from ..assets import is_bundled
    from ..decoding import BUNDLED_DEFAULTS, FASTSAM_DEFAULTS

    return (BUNDLED_DEFAULTS if is_bundled(options.model) else FASTSAM_DEFAULTS).imgsz


def export_with_torch(options: ModelOptions) -> Path:
    """The ONNX export of a checkpoint that has none yet, written by the PyTorch engine."""
    from .pytorch import Segmenter

    segmenter = Segmenter(options.model, device="cpu", backend="onnx", warmup=False)
    return segmenter.runtime.path


__all__ = ["SegmentationEngine", "open_engine", "onnx_file", "check_int8", "nvidia_gpu_present", "apple_gpu_present"]
