"""The OpenVINO backend: the checkpoint's ONNX export compiled for the CPU, numpy decoding around it.

Like `onnxrt.OnnxSegmenter` it runs the shipped or cached ONNX file (`export.find_onnx`) with no
PyTorch in the process. The network is compiled once per input shape (a camera has one), with
the LATENCY hint, one stream and as many threads as the process has cores; OpenVINO caches the
compiled blobs in `<cache>/openvino/`, so a later start compiles nothing. An INT8 model
(`quantize.quantized_model`) is an IR file beside the cache and runs here the same way.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..assets import cache_dir, resolve_weights
from ..decoding import CpuSegmenterBase
from ..types import WeightsError
from .export import STRIDE, BackendError, cpu_cores, find_onnx

HINT = "install openvino (pip install openvino) or use --backend onnx"


def import_openvino():
    """The openvino module, or a BackendError naming the fix when it is not installed."""
    try:
        import openvino
    except ImportError:
        raise BackendError(f"the openvino backend needs openvino, which is not installed: {HINT}") from None
    return openvino


def cpu_name() -> str:
    """The CPU's model name, as OpenVINO reports it (part of the auto choice's cache key)."""
    return import_openvino().Core().get_property("CPU", "FULL_DEVICE_NAME")


class OpenVinoSegmenter(CpuSegmenterBase):
    """One model owner on OpenVINO (CPU): load, warm up, segment(frame | batch) -> Segmentation."""

    backend = "openvino"

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, half: bool | None = None,
                 imgsz: int | None = None, conf: float | None = None, iou: float | None = None,
                 max_det: int = 300, retina: bool = True, warmup: bool = True, onnx_path: str | Path | None = None,
                 ir_path: str | Path | None = None, threads: int | None = None, bf16: bool = False):
        """`onnx_path`: the FP32 export (default: shipped or cached for `model`); `ir_path`: an
        OpenVINO IR (.xml) to run instead, such as an INT8 model; `bf16`: run it in bfloat16 (refused
        with one line on a CPU without bf16 kernels, where OpenVINO would quietly run f32)."""
        if device not in (None, "", "cpu"):
            raise WeightsError(f"the openvino engine runs on the CPU, not {device!r}: use --device cpu or --backend torch")
        if half:
            raise WeightsError("half precision needs a GPU: drop --half or use --device cuda")
        ov = import_openvino()
        self.weights = resolve_weights(model)
        path = Path(ir_path or onnx_path or find_onnx(self.weights) or "")
        if not path.is_file():
            raise WeightsError(f"no ONNX export of {self.weights.name} here yet: run once with --backend onnx "
                               f"(exports it into {cache_dir()}/) or use --backend torch")
        self.model_path = self.onnx_path = path
        self.int8 = ir_path is not None
        self.precision = ("int8" if self.int8 else "bf16" if bf16 else "fp32") + " openvino"
        self._set_settings(imgsz, conf, iou, max_det, retina)
        self.stride = STRIDE
        self.threads = threads or cpu_cores()
        self.core = ov.Core()
        if bf16 and "BF16" not in self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise WeightsError(f"--bf16: this CPU ({cpu_name()}) has no bfloat16 kernels (AMX or AVX-512 BF16): "
                               "drop --bf16 (FP32), or use --int8")
        blobs = cache_dir() / "openvino"
        try:
            blobs.mkdir(parents=True, exist_ok=True)
            self.core.set_property({"CACHE_DIR": str(blobs)})
        except OSError:  # a read-only cache: compile at every start instead
            pass
        try:
            self.network = self.core.read_model(str(path))
        except Exception as err:
            raise WeightsError(f"{path} is not a model OpenVINO can read ({type(err).__name__}): delete it and run "
                               "again to export it, or use --backend onnx") from None
        # f32 unless asked: OpenVINO's default on a CPU with AMX would quietly be bf16
        self.config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": self.threads,
                       "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32"}
        self._requests: dict[tuple[int, ...], object] = {}  # one compiled network per input shape
        self._lock = threading.Lock()  # one infer request per shape: callers take turns
        self.num_classes = self.classes_from_outputs(path)
        if warmup:
            self.warmup()

    def _request(self, shape: tuple[int, ...]):
        request = self._requests.get(shape)
        if request is None:
            network = self.network.clone()
            network.reshape({network.inputs[0].get_any_name(): list(shape)})  # static: faster than dynamic
            request = self.core.compile_model(network, "CPU", self.config).create_infer_request()
            self._requests[shape] = request
        return request

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network alone: (B, 3, h, w) float32 -> (raw (B, 4 + nc + 32, A), prototypes (B, 32, h/4, w/4)).
        A batch runs image by image on the one-image network: a CPU gains nothing from batching
        under the LATENCY hint, and every batch size would be one more compilation."""
        batch = np.ascontiguousarray(batch, np.float32)
        raws, protos = [], []
        with self._lock:
            request = self._request((1, *batch.shape[1:]))
            for image in batch:
                request.infer({0: image[None]})
                # copies: the request's output buffers are overwritten by its next inference
                raws.append(request.get_output_tensor(0).data.copy())
                protos.append(request.get_output_tensor(1).data.copy())
        return (raws[0], protos[0]) if len(raws) == 1 else (np.concatenate(raws), np.concatenate(protos))
