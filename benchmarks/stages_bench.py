"""The stages after the model (prompts, overlay, "better quality"), this checkout's numpy/OpenCV
code against the PyTorch code of an older commit on the CPU, and what importing them costs.

    python benchmarks/stages_bench.py [--old 858a8b5] [--repeat 7]

A synthetic 1920x1080 frame with 40 speckled masks; each stage is timed in its own process per
code base (medians, 2 threads). The old code is unpacked with `git archive`. Prints one table;
the numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = "import fastsam_video.prompts, fastsam_video.render, fastsam_video.sinks, fastsam_video.api"


def scene(h: int = 1080, w: int = 1920, n: int = 40):
    import numpy as np

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    masks = np.zeros((n, h, w), bool)
    for k in range(n):
        x, y, bw, bh = rng.integers(0, w - 400), rng.integers(0, h - 300), rng.integers(40, 400), rng.integers(40, 300)
        masks[k, y:y + bh, x:x + bw] = rng.random((bh, bw)) > 0.1
    return image, masks


def measure(repeat: int) -> dict[str, float]:
    """Runs in a child process whose sys.path starts at the code base under test."""
    import numpy as np

    import fastsam_video.prompts as P
    import fastsam_video.render as R
    import fastsam_video.types as T

    def timed(fn, times=repeat):
        fn()
        samples = []
        for _ in range(times):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return float(np.median(samples)) * 1e3

    image, masks = scene()
    if "torch" in sys.modules:  # the old code: tensors on the CPU
        import torch

        torch.set_num_threads(2)
        masks, frame = torch.from_numpy(masks), torch.from_numpy(image)
        seg = T.Segmentation(masks, P.masks_to_boxes(masks), torch.rand(len(masks)), torch.arange(1, len(masks) + 1))
        crops_of = seg.masks
    else:
        frame = image
        seg = T.Segmentation.of(masks, P.masks_to_boxes(masks), np.linspace(0.9, 0.5, len(masks)))
        crops_of = list(seg.masks)
    boxes = np.asarray(seg.boxes).tolist()
    points = [((x1 + x2) // 2, (y1 + y2) // 2) for x1, y1, x2, y2 in boxes[:3]]
    return {
        "masks_to_boxes": timed(lambda: P.masks_to_boxes(masks)),
        "select_by_points (3 points)": timed(lambda: P.select_by_points(seg, points, [1, 1, 0])),
        "select_by_boxes (1 box)": timed(lambda: P.select_by_boxes(seg, boxes[5:6])),
        "select_by_boxes (10 boxes)": timed(lambda: P.select_by_boxes(seg, boxes[:10])),
        "CLIP crops (40 masks, 224 px)": timed(lambda: P.mask_crops(frame, crops_of, seg.boxes, 224, P.CLIP_MEAN,
                                                                     P.CLIP_STD)),
        "overlay + contours": timed(lambda: R.Annotator(labels=False).annotate(image, seg)),
        "refine_masks (better quality)": timed(lambda: R.refine_masks(seg.masks), 2),
    }


def child(root: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tempfile.gettempdir(),
                          env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="858a8b5", help="the commit with the PyTorch stages")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as old_root:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old, "fastsam_video"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", old_root], input=archive, check=True)
        bases = {f"torch ({args.old})": Path(old_root), "numpy/OpenCV": ROOT}
        code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import stages_bench; "
                f"print(json.dumps(stages_bench.measure({args.repeat})))")
        results = {name: json.loads(child(root, ["-c", code]).stdout) for name, root in bases.items()}
        imports = {}
        for name, root in bases.items():
            t = time.perf_counter()
            child(root, ["-c", IMPORTS])
            imports[name] = time.perf_counter() - t
    old, new = results.values()
    print(f"{'stage (1920x1080, 40 masks, CPU)':<36}{'torch':>11}{'numpy':>11}{'speed-up':>10}")
    for stage in new:
        print(f"{stage:<36}{old[stage]:9.1f}ms{new[stage]:9.1f}ms{old[stage] / new[stage]:9.1f}x")
    old_s, new_s = imports.values()
    print(f"{'import prompts+render+sinks+api':<36}{old_s:10.2f}s{new_s:10.2f}s{old_s / new_s:9.1f}x")


if __name__ == "__main__":
    main()
