"""The CPU engines side by side on the sample images: OnnxSegmenter (no PyTorch in the process),
Segmenter --backend onnx (ONNX Runtime forward, PyTorch loaded) and Segmenter --backend torch.

Prints per image size the median ms of one `segment` (and of its stages), the engines taking
turns image by image; then whole-process wall time of `python -c` import + load + one image,
each variant in turn, with the heavy modules each one loaded.

    nice .venv/bin/python benchmarks/cpu_engine.py
    nice .venv/bin/python benchmarks/cpu_engine.py --sizes 320 640 --repeat 20 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMAGES = sorted((ROOT / "samples" / "images").glob("scene*.jpg"))
PROCESS = {
    "OnnxSegmenter": "from fastsam_video.engines.onnxrt import OnnxSegmenter as E; e = E(imgsz={imgsz})",
    "Segmenter onnx": "from fastsam_video.engines.pytorch import Segmenter as E; e = E(device='cpu', backend='onnx', imgsz={imgsz})",
    "Segmenter torch": "from fastsam_video.engines.pytorch import Segmenter as E; e = E(device='cpu', backend='torch', imgsz={imgsz})",
}
SEGMENT_ONE = ("import sys, cv2\n{load}\nseg = e(cv2.imread({image!r}))\n"
               "print(len(seg), [m for m in ('torch', 'torchvision', 'ultralytics') if m in sys.modules])")


def per_image(sizes: list[int], repeat: int) -> None:
    import cv2

    from fastsam_video.engines.pytorch import Segmenter
    from fastsam_video.engines.onnxrt import OnnxSegmenter

    images = [cv2.imread(str(p)) for p in IMAGES]
    for imgsz in sizes:
        engines = {"OnnxSegmenter": OnnxSegmenter(imgsz=imgsz),
                   "Segmenter onnx": Segmenter(device="cpu", backend="onnx", imgsz=imgsz),
                   "Segmenter torch": Segmenter(device="cpu", backend="torch", imgsz=imgsz)}
        times = {name: [] for name in engines}
        stages = {name: {"preprocess": [], "forward": [], "postprocess": []} for name in engines}
        for _ in range(repeat):
            for image in images:
                for name, engine in engines.items():  # in turn: load on the shared machine hits all alike
                    start = time.perf_counter()
                    seg = engine.segment(image)
                    times[name].append((time.perf_counter() - start) * 1e3)
                    for stage, values in stages[name].items():
                        values.append(seg.timings[stage])
        print(f"imgsz {imgsz}, {len(images)} images {images[0].shape[1]}x{images[0].shape[0]}, {repeat} rounds:")
        for name in engines:
            parts = ", ".join(f"{s} {statistics.median(v):.2f}" for s, v in stages[name].items())
            print(f"  {name:<16} median {statistics.median(times[name]):6.2f} ms  ({parts})")


def whole_process(runs: int, imgsz: int) -> None:
    image = str(IMAGES[0])
    walls = {name: [] for name in PROCESS}
    loaded = {}
    for run in range(runs + 1):  # run 0 is untimed: it exports the ONNX cache and warms the file cache
        for name, load in PROCESS.items():
            code = SEGMENT_ONE.format(load=load.format(imgsz=imgsz), image=image)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
            if run:
                walls[name].append(time.perf_counter() - start)
            loaded[name] = done.stdout.strip()
    print(f"whole process, python -c import + load + one image (imgsz {imgsz}), median of {runs}:")
    for name, values in walls.items():
        print(f"  {name:<16} {statistics.median(values):5.2f} s  (min {min(values):.2f})  masks, heavy modules: "
              f"{loaded[name]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    per_image(args.sizes, args.repeat)
    whole_process(args.runs, args.sizes[0])


if __name__ == "__main__":
    main()
