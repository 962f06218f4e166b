"""Train the bundled model: a class-agnostic YOLOv8n-seg (FastSAM's architecture and
checkpoint format, one class, 32 prototypes) on procedurally generated scenes.

    python -m fastsam_video.training --out runs/bundled --hours 1.5
    python -m fastsam_video.training --out runs/bundled --hours 1.5 --device 0   # on a GPU

Writes the stripped FP16 checkpoint to weights/fastsam-video-n.pt (or --weights).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from .synth import write_dataset

BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "fastsam-video-n.pt"


def train(out: Path, hours: float, device: str, train_images: int, val_images: int,
          imgsz: int, batch: int, weights: Path, seed: int = 0) -> Path:
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import strip_optimizer

    data = out / "data" / "data.yaml"
    if not data.exists():
        started = time.perf_counter()
        write_dataset(out / "data", train_images, val_images, seed)
        print(f"dataset: {train_images}+{val_images} scenes in {time.perf_counter() - started:.0f} s")
    model = YOLO("yolov8n-seg.yaml")  # architecture only: FastSAM-s is the same family at scale s
    model.train(
        data=str(data), imgsz=imgsz, batch=batch, time=hours, epochs=1000, device=device,
        workers=2, cache="ram", project=str(out.resolve()), name="train", exist_ok=True, plots=False,
        val=False, single_cls=True, close_mosaic=3, seed=seed, deterministic=False,
        amp=device != "cpu", patience=1000, verbose=True,
    )
    last = Path(model.trainer.save_dir) / "weights" / "last.pt"
    strip_optimizer(last)  # drops optimizer and EMA copies, stores FP16: ~6.5 MB
    weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(last, weights)
    print(f"bundled model written to {weights} ({weights.stat().st_size / 1e6:.1f} MB)")
    return weights


def best_match_ious(segmenter, scenes: int, seed: int) -> tuple[list[float], float]:
    """Per ground-truth object of `scenes` fresh generated scenes: the IoU of the mask matching it
    best; and the median segment() time in ms."""
    import numpy as np

    from .synth import MIN_INSTANCE_PIXELS, random_scene

    rng = np.random.default_rng(seed)
    ious, times = [], []
    sizes = ((240, 320), (320, 320), (256, 384), (320, 240), (288, 352))
    for _ in range(scenes):
        h, w = sizes[int(rng.integers(len(sizes)))]
        image, instances = random_scene(rng, h, w)
        start = time.perf_counter()
        masks = segmenter.segment(image).masks
        times.append(time.perf_counter() - start)
        for value in np.unique(instances):
            gt = instances == value
            if value == 0 or gt.sum() < MIN_INSTANCE_PIXELS:
                continue
            inter = (masks & gt).sum((1, 2))
            union = (masks | gt).sum((1, 2))
            ious.append(float((inter / np.maximum(union, 1)).max()) if len(masks) else 0.0)
    return ious, float(np.median(times) * 1e3)


def evaluate(weights: Path, scenes: int = 200, seed: int = 12345, imgsz: int = 320) -> dict[str, float]:
    """Mask quality on held-out generated scenes (a seed never used for training): ultralytics'
    mask mAP50 / mAP50-95, and the mean IoU of the best-matching mask per ground-truth object."""
    import tempfile

    import numpy as np
    from ultralytics import YOLO

    from .engines.pytorch import Segmenter

    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(Path(tmp), 0, scenes, seed)
        metrics = YOLO(str(weights)).val(data=str(data), imgsz=imgsz, batch=16, device="cpu", plots=False,
                                         verbose=False, single_cls=True)
    ious, ms = best_match_ious(Segmenter(weights, device="cpu", imgsz=imgsz), scenes, seed + 1)
    return {"mask_map50": float(metrics.seg.map50), "mask_map50_95": float(metrics.seg.map),
            "box_map50": float(metrics.box.map50), "mean_best_iou": float(np.mean(ious)),
            "objects": len(ious), "scenes": scenes, "ms_per_frame_cpu": ms}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fastsam_video.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bundled"))
    parser.add_argument("--hours", type=float, default=1.5, help="training time budget")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--val-images", type=int, default=200)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--weights", type=Path, default=BUNDLED_WEIGHTS)
    parser.add_argument("--evaluate", action="store_true", help="only measure --weights on held-out scenes")
    args = parser.parse_args(argv)
    if args.evaluate:
        for key, value in evaluate(args.weights, imgsz=args.imgsz).items():
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
        return
    train(args.out, args.hours, args.device, args.train_images, args.val_images,
          args.imgsz, args.batch, args.weights)


if __name__ == "__main__":
    main()
