"""OnnxSegmenter: the model on ONNX Runtime's CPU provider with numpy / OpenCV around it, and no
PyTorch, torchvision or ultralytics in the process (they take seconds to import).

It runs the ONNX export of a checkpoint: shipped beside the bundled model, or the one
`runtime.OnnxForward` exported and cached on an earlier run (`Segmenter(backend="onnx")`).
Its interface is `engine.Segmenter`'s: `infer` -> `decode`, `segment_batch`, `segment`.

    python -m fastsam_video.onnx_engine     # (re)writes the shipped weights/fastsam-video-n.onnx (needs torch)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .assets import BUNDLED_NAME, bundled_onnx, bundled_weights, cache_dir, resolve_weights
from .decoding import NetworkOutput, SegmenterBase, check_image, letterbox_batch
from .runtime import BackendError, cached_onnx, cpu_cores, import_onnxruntime, onnx_session, sha256_of
from .types import WeightsError

STRIDE = 32  # YOLOv8's largest stride: inputs are padded to a multiple of it
SOURCE_KEY = "checkpoint_sha256"  # ONNX metadata of the shipped file: the checkpoint it was exported from


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


class OnnxSegmenter(SegmenterBase):
    """One model owner on ONNX Runtime (CPU): load, warm up, segment(frame | batch) -> Segmentation."""

    backend = "onnx"
    precision = "fp32 onnx"
    device = "cpu"
    device_type = "cpu"
    half = False

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, half: bool | None = None,
                 imgsz: int | None = None, conf: float | None = None, iou: float | None = None,
                 max_det: int = 300, retina: bool = True, warmup: bool = True, backend: str = "onnx",
                 onnx_path: str | Path | None = None, threads: int | None = None):
        if device not in (None, "", "cpu"):
            raise WeightsError(f"the ONNX engine runs on the CPU, not {device!r}: use --device cpu or --backend torch")
        if half:
            raise WeightsError("half precision needs a GPU: drop --half or use --device cuda")
        if backend not in ("onnx", "auto"):
            raise BackendError(f"OnnxSegmenter runs the onnx backend, not {backend!r}: use engine.Segmenter")
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
        self.num_classes = self._probe_classes()
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
                               "with `python -m fastsam_video.onnx_engine` or use --backend torch")
        return session

    def _probe_classes(self) -> int:
        """The class count from the output channels of one tiny forward (the ONNX shapes are symbolic):
        raw has 4 box + nc class + as many coefficient channels as proto has prototypes."""
        raw, proto = self.forward(np.zeros((1, 3, self.stride, self.stride), np.float32))
        if raw.ndim != 3 or proto.ndim != 4 or raw.shape[1] <= 4 + proto.shape[1]:
            raise WeightsError(f"{self.onnx_path} gives outputs {raw.shape} and {proto.shape}, not a segmentation "
                               "model's (B, 4 + nc + 32, A) and (B, 32, h, w): use a FastSAM / YOLOv8-seg export")
        return int(raw.shape[1] - 4 - proto.shape[1])

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network alone: (B, 3, h, w) float32 -> (raw (B, 4 + nc + 32, A), prototypes (B, 32, h/4, w/4))."""
        raw, proto = self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(batch, np.float32)})
        return raw, proto

    def warmup(self) -> None:
        self.forward(np.zeros((1, 3, self.imgsz, self.imgsz), np.float32))

    def preprocess(self, images: list[np.ndarray]):
        return letterbox_batch(images, self.imgsz, self.stride)

    def infer(self, images: list[np.ndarray]) -> NetworkOutput:
        """Letterbox BGR uint8 (H, W, 3) images into one batch and run the network."""
        t0 = time.perf_counter()
        batch, boxes = self.preprocess([check_image(im) for im in images])
        t1 = time.perf_counter()
        raw, proto = self.forward(batch)
        t2 = time.perf_counter()
        return NetworkOutput(raw, proto, tuple(boxes), tuple(im.shape[:2] for im in images),
                             {"preprocess": (t1 - t0) * 1e3, "forward": (t2 - t1) * 1e3})


def export_bundled(target: Path | None = None) -> Path:
    """Write the bundled model's ONNX file (needs torch, ultralytics and onnx), with the SHA-256 of
    the checkpoint it came from in its metadata (a retrained checkpoint is then not run with it)."""
    import onnx

    from .engine import load_model
    from .runtime import OnnxForward, export_onnx

    weights = bundled_weights()
    target = target or weights.with_name(weights.stem + ".onnx")
    model = load_model(weights)
    export_onnx(model, target)
    proto = onnx.load(str(target))
    onnx.helper.set_model_props(proto, {SOURCE_KEY: sha256_of(weights)})
    onnx.save(proto, str(target))
    OnnxForward.check(model, onnx_session(target))
    return target


if __name__ == "__main__":
    written = export_bundled()
    print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")
