"""Segmenter: loads a FastSAM / YOLOv8-seg checkpoint in PyTorch and turns BGR frames into
class-agnostic segmentations, FP16 on CUDA. PyTorch is the reference and the GPU path;
`onnxrt.OnnxSegmenter` and `openvino.OpenVinoSegmenter` run its ONNX export on the CPU without it.

Call order per batch: `infer` = letterbox -> forward; then `decode` = NMS -> mask decoding at the
frame's resolution for the kept detections only -> FastSAM's border snapping. On the CPU both
ends are `decoding`'s numpy / OpenCV code (the forward pass in PyTorch or ONNX Runtime); on a GPU
they stay on the device (letterbox, NMS, masks in bounded chunks) and the masks come to the host
once, at the end, only their box windows crossing the bus (`masks_to_host`). `segment_batch` does both; the pipeline runs them on two threads so that frame
t is decoded while frame t+1 is in the network.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..assets import (ASSETS_URL, BUNDLED_NAME, DOWNLOADABLE, REPO_ROOT, bundled_weights,  # noqa: F401  (importable here)
                      resolve_weights)
from ..decoding import (BUNDLED_DEFAULTS, FASTSAM_DEFAULTS, DecodeSettings, FrameToProto, Letterbox,  # noqa: F401
                       ModelDefaults, NetworkOutput, SegmenterBase, batch_letterboxes, check_image, letterbox_batch,
                       box_windows, letterbox_geometry, resize, snap_to_border)  # (defined here before `decoding`)
from ..types import Segmentation, WeightsError
from .export import BackendError, cpu_cores

log = logging.getLogger(__name__)

TORCH_BACKENDS = ("torch", "onnx", "auto")  # what runs the network under the PyTorch engine
UPSAMPLE_PIXELS = 16_000_000  # float logits upsampled at once on the device (64 MB)


def load_model(weights: Path) -> torch.nn.Module:
    """The checkpoint's SegmentationModel in FP32 eval mode, fused."""
    from ultralytics.nn.tasks import load_checkpoint

    try:
        model, _ = load_checkpoint(weights, device="cpu", fuse=True)
    except Exception as err:
        # one line: ultralytics wraps the unpickling error in its own, and the cause says no more
        raise WeightsError(f"{weights} is not a readable FastSAM / YOLOv8-seg checkpoint (empty, cut short or "
                           "not a PyTorch file): re-download it or pass another --model") from err
    head = model.model[-1]
    if not hasattr(head, "proto"):
        raise WeightsError(f"{weights} is a {type(head).__name__} model without mask prototypes: "
                           "use a segmentation checkpoint (FastSAM-*.pt or yolov8*-seg.pt)")
    return model


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        device = torch.device("cuda:0" if requested in ("cuda", "gpu") else
                              f"cuda:{requested}" if requested.isdigit() else requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise WeightsError(f"device {requested!r} asked for, but CUDA is not available here: use --device cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda:0")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Segmenter(SegmenterBase):
    """One model owner: load, warm up, segment(frame | batch) -> Segmentation."""

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, half: bool | None = None,
                 imgsz: int | None = None, conf: float | None = None, iou: float | None = None,
                 max_det: int = 300, retina: bool = True, warmup: bool = True, backend: str = "torch"):
        self.weights = resolve_weights(model)
        self.device = pick_device(device)
        self.half = self.device.type == "cuda" if half is None else half
        if self.half and self.device.type == "cpu":
            raise WeightsError("half precision needs a GPU: drop --half or use --device cuda")
        self._set_settings(imgsz, conf, iou, max_det, retina)
        self.dtype = torch.float16 if self.half else torch.float32
        self._forward_lock = threading.Lock()  # shared by shallow copies (the web's image page)
        if self.device.type == "cpu":
            # leave a core to the decode and encode threads: with every core busy, the model's
            # OpenMP threads spin-wait for the one that is taken (measured: 10x slower on 2 cores)
            torch.set_num_threads(max(1, cpu_cores() - 1))
        model_fp32 = load_model(self.weights)
        self.stride = int(max(model_fp32.stride.max().item(), 32))
        self.num_classes = int(model_fp32.model[-1].nc)
        self.model = model_fp32.to(self.device, self.dtype).eval()
        self.backend, self.runtime = select_backend(backend, self.model, self.weights, self.device)
        if warmup:
            self.warmup()

    @property
    def device_type(self) -> str:
        """"cpu", "cuda" or "mps"."""
        return self.device.type

    @property
    def precision(self) -> str:
        return ("fp16" if self.half else "fp32") + ("" if self.backend == "torch" else f" {self.backend}")

    def forward(self, batch):
        """The network alone: (B, 3, h, w) input -> (raw predictions (B, 4 + nc + 32, A), prototypes
        (B, 32, h/4, w/4)); numpy arrays on the CPU, device tensors elsewhere."""
        if self.runtime is not None:
            return self.runtime(batch)
        if isinstance(batch, np.ndarray):
            batch = torch.from_numpy(batch)
        with self._forward_lock, torch.inference_mode():  # the head caches anchors per input shape: one at a time
            out = self.model(batch)
        raw, proto = out[0] if isinstance(out[0], tuple) else out  # ((y, proto), raw_dict) in eval mode
        return (raw.numpy(), proto.numpy()) if self.device.type == "cpu" else (raw, proto)

    def warmup(self) -> None:
        if self.device.type == "cpu":
            self.forward(np.zeros((1, 3, self.imgsz, self.imgsz), dtype=np.float32))
            return
        with torch.inference_mode():
            self.forward(torch.zeros((1, 3, self.imgsz, self.imgsz), device=self.device, dtype=self.dtype))
        self._sync()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ pre-processing
    def to_device(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 BGR on the device; pinned, non-blocking upload on CUDA."""
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def preprocess(self, images: list[np.ndarray | torch.Tensor]):
        """BGR uint8 (H, W, 3) images -> one RGB (B, 3, h, w) network input and each image's letterbox.
        A batch shares the input size of its largest letterbox. On the CPU: numpy images -> a numpy
        input (OpenCV); elsewhere images (numpy or device tensors) are letterboxed on the device."""
        if self.device.type == "cpu":
            return letterbox_batch([im.numpy() if isinstance(im, torch.Tensor) else im for im in images],
                                   self.imgsz, self.stride)
        tensors = [im if isinstance(im, torch.Tensor) else self.to_device(im) for im in images]
        return letterbox_on_device(tensors, self.imgsz, self.stride, self.dtype)

    # ------------------------------------------------------------------ post-processing on the device
    def decode_on_device(self, raw: torch.Tensor, proto: torch.Tensor, boxes_in: list[Letterbox],
                         shapes: list[tuple[int, int]]) -> list[Segmentation]:
        """NMS and masks on the GPU; each image's masks come to the host once, at the end."""
        from ultralytics.utils.nms import non_max_suppression

        detections = non_max_suppression(raw, self.conf, self.iou, agnostic=True, max_det=self.max_det,
                                          nc=self.num_classes)
        results = []
        for det, protos, box, (h, w) in zip(detections, proto, boxes_in, shapes):
            xyxy = det[:, :4].float()
            xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - box.pad_left) / box.gain).clamp(0, w)
            xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - box.pad_top) / box.gain).clamp(0, h)
            masks = decode_masks_on_device(protos, det[:, 6:], xyxy, box, h, w, self.retina)
            corners = xyxy.cpu().numpy()
            results.append(Segmentation.of(masks_to_host(masks, corners), snap_to_border(corners, h, w),
                                           det[:, 4].float().cpu().numpy()))
        return results

    # ------------------------------------------------------------------ public
    def infer(self, images: list[np.ndarray | torch.Tensor]) -> NetworkOutput:
        """The model's share of the work: letterbox BGR uint8 (H, W, 3) images (numpy, or device
        tensors on a GPU) into one batch and run the network. `decode` turns the result into
        segmentations; the pipeline runs the two on different threads so they overlap."""
        t0 = time.perf_counter()
        for im in images:
            if isinstance(im, torch.Tensor):
                if im.ndim != 3 or im.shape[2] != 3 or im.dtype != torch.uint8:
                    raise ValueError(f"image: expected (H, W, 3) uint8 BGR, got {tuple(im.shape)} {im.dtype}")
            else:
                check_image(im)
        with torch.inference_mode():
            batch, boxes = self.preprocess(images)
            self._sync()
            t1 = time.perf_counter()
            raw, proto = self.forward(batch)
            self._sync()
        t2 = time.perf_counter()
        return NetworkOutput(raw, proto, tuple(boxes), tuple(tuple(im.shape[:2]) for im in images),
                             {"preprocess": (t1 - t0) * 1e3, "forward": (t2 - t1) * 1e3})

    def decode_output(self, output: NetworkOutput) -> list[Segmentation]:
        if isinstance(output.raw, torch.Tensor) and output.raw.device.type != "cpu":
            with torch.inference_mode():
                return self.decode_on_device(output.raw, output.proto, list(output.letterboxes), list(output.shapes))
        return super().decode_output(output)  # numpy (or CPU tensors: np.asarray reads them without a copy)


def select_backend(backend: str, model: torch.nn.Module, weights: Path | None, device: torch.device,
                   cache_dir: str | Path | None = None):
    """(backend name, forward or None for PyTorch's own) for Segmenter. "auto" = ONNX Runtime on the
    CPU when it is installed and the export works (exported and cached here), else torch."""
    if backend not in TORCH_BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: use one of {', '.join(TORCH_BACKENDS)}")
    if backend == "torch" or (backend == "auto" and device.type != "cpu"):
        return "torch", None
    if device.type != "cpu":
        raise BackendError(f"the onnx backend runs on the CPU, not {device}: use --device cpu or --backend torch")
    from .onnxrt import OnnxForward

    try:
        return "onnx", OnnxForward(model, weights, cache_dir)
    except BackendError as err:
        if backend == "onnx":
            raise
        log.info("backend auto: using torch (%s)", err)
        return "torch", None


# ---------------------------------------------------------------- the GPU path: letterbox and masks on the device

def letterbox_on_device(images: list[torch.Tensor], imgsz: int, stride: int,
                        dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, list[Letterbox]]:
    """The device twin of `decoding.letterbox_batch`: BGR uint8 (H, W, 3) tensors -> one RGB
    (B, 3, h, w) input of `dtype` on their device, and each image's letterbox."""
    placed = batch_letterboxes([tuple(t.shape[:2]) for t in images], imgsz, stride)
    batch = torch.full((len(images), 3, placed[0].input_h, placed[0].input_w), 114 / 255, device=images[0].device,
                       dtype=dtype)
    for i, (image, box) in enumerate(zip(images, placed)):
        chw = image.permute(2, 0, 1).flip(0).unsqueeze(0).to(dtype) / 255  # BGR -> RGB
        if (box.content_h, box.content_w) != tuple(image.shape[:2]):
            chw = F.interpolate(chw, size=(box.content_h, box.content_w), mode="bilinear", align_corners=False)
        batch[i, :, box.pad_top:box.pad_top + box.content_h, box.pad_left:box.pad_left + box.content_w] = chw[0]
    return batch, placed


def decode_masks_on_device(proto: torch.Tensor, coeffs: torch.Tensor, boxes: torch.Tensor, box: Letterbox,
                           height: int, width: int, retina: bool = True) -> torch.Tensor:
    """(N, H, W) bool device masks at the frame's resolution, cropped to their xyxy boxes: the
    device twin of `decoding.decode_masks`."""
    n = coeffs.shape[0]
    if n == 0:
        return torch.zeros((0, height, width), dtype=torch.bool, device=proto.device)
    c, mh, mw = proto.shape
    logits = (coeffs.float() @ proto.float().view(c, -1)).view(n, mh, mw)
    to_proto = FrameToProto.of(box, height, width, mh, mw)
    if not retina:  # cheaper: threshold at prototype resolution, nearest prototype pixel
        rows, cols = nearest_indices(to_proto, height, width, logits.device)
        return crop_to_boxes((logits > 0)[:, rows][:, :, cols], boxes)
    return upsample_on_device(logits, boxes, to_proto, height, width)  # smooth full-resolution edges


def masks_to_host(masks: torch.Tensor, boxes: np.ndarray) -> np.ndarray:
    """(N, H, W) device masks cropped to their xyxy `boxes` -> numpy, copying only each box's
    window, in one transfer: the bytes that cross the bus are the boxes' area, not N frames
    (100 masks at 1080p would be 200 MB), and the host's untouched pages stay unallocated."""
    n, height, width = masks.shape
    host = np.zeros((n, height, width), dtype=bool)
    windows = [(k, x1, y1, x2, y2) for k, (x1, y1, x2, y2) in enumerate(box_windows(boxes, height, width).tolist())
               if x2 > x1 and y2 > y1]
    if not windows:
        return host
    flat = torch.cat([masks[k, y1:y2, x1:x2].reshape(-1) for k, x1, y1, x2, y2 in windows]).cpu().numpy()
    offset = 0
    for k, x1, y1, x2, y2 in windows:
        size = (y2 - y1) * (x2 - x1)
        host[k, y1:y2, x1:x2] = flat[offset:offset + size].reshape(y2 - y1, x2 - x1)
        offset += size
    return host


@functools.lru_cache(maxsize=8)
def nearest_indices(to_proto: FrameToProto, height: int, width: int,
                    device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """`FrameToProto.nearest` on `device`: made and uploaded once per frame shape, like `sampling_grid`."""
    rows, cols = to_proto.nearest(height, width)
    with torch.inference_mode(False):  # cached: usable outside inference mode too
        return torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)


@functools.lru_cache(maxsize=8)
def sampling_grid(to_proto: FrameToProto, height: int, width: int, proto_h: int, proto_w: int,
                  device: torch.device) -> torch.Tensor:
    """(1, height, width, 2) float32 grid_sample coordinates of every frame pixel on a (proto_h,
    proto_w) prototype grid, on `device`. It depends only on the frame's shape and letterbox: made
    and uploaded once per camera resolution, not once per frame and chunk."""
    with torch.inference_mode(False):  # cached: usable outside inference mode too (with autograd)
        v, u = (torch.from_numpy(a).to(device) for a in to_proto.grid(height, width))
        # grid_sample's normalized coordinates (align_corners=False): -1 and 1 are the outer pixel edges
        return torch.stack(torch.broadcast_tensors(((2 * u + 1) / proto_w - 1)[None, :],
                                                   ((2 * v + 1) / proto_h - 1)[:, None]), -1)[None]


def upsample(logits: torch.Tensor, to_proto: FrameToProto, height: int, width: int) -> torch.Tensor:
    """(N, h, w) prototype logits bilinearly sampled at every frame pixel: (N, height, width) float."""
    grid = sampling_grid(to_proto, height, width, *logits.shape[1:], logits.device)
    return F.grid_sample(logits[None], grid.to(logits.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)[0]


def crop_to_boxes(masks: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Clear each (N, H, W) mask outside its xyxy box (whole pixels: floor / ceil), in place."""
    height, width = masks.shape[1:]
    ys = torch.arange(height, device=masks.device)
    xs = torch.arange(width, device=masks.device)
    x1, y1, x2, y2 = (boxes[:, i, None] for i in range(4))
    masks &= ((ys >= y1.floor()) & (ys < y2.ceil()))[:, :, None]  # rows inside the box
    masks &= ((xs >= x1.floor()) & (xs < x2.ceil()))[:, None, :]  # columns inside the box
    return masks


def upsample_on_device(logits: torch.Tensor, boxes: torch.Tensor, to_proto: FrameToProto, height: int,
                       width: int, chunk_pixels: int = UPSAMPLE_PIXELS) -> torch.Tensor:
    """The GPU path of retina decoding: `upsample(...) > 0` cropped to the boxes, a few masks at a
    time so that the float intermediate stays under `chunk_pixels` however many masks there are."""
    n = logits.shape[0]
    masks = torch.empty((n, height, width), dtype=torch.bool, device=logits.device)
    chunk = max(1, chunk_pixels // (height * width))
    for start in range(0, n, chunk):
        torch.gt(upsample(logits[start:start + chunk], to_proto, height, width), 0, out=masks[start:start + chunk])
    return crop_to_boxes(masks, boxes)
