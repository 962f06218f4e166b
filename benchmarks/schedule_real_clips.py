"""`--detect-every K` on real clips without ground truth (issue 25): the masks of the schedule
against those of the model on every frame (agreement J, per object), the share of frames the
model ran on and the output frames per CPU-second of each (the pipeline's CPU: the masks are
compared after its clock stops), the two taking turns clip by clip.
Two objects are point-prompted on the first frame (the centres of the two best-scoring masks of
0.5-30 % of the frame). The every-frame masks' own frame-to-frame J says how steady they are.

    nice .venv/bin/python benchmarks/schedule_real_clips.py                      # ../shared/clips
    nice .venv/bin/python benchmarks/schedule_real_clips.py CLIP.mp4 --frames 120 --every 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fastsam_video.camera_bench import timed_run
from fastsam_video.engines import open_engine
from fastsam_video.options import ModelOptions
from fastsam_video.sources import open_source
from fastsam_video.tracker import ObjectPrompt, PromptSet

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "clips"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def first_frame_prompts(segmenter, path: str) -> tuple[ObjectPrompt, ...]:
    first = open_source(path).read().image
    seg = segmenter.decode(segmenter.infer([first]))[0]
    areas = seg.masks.reshape(len(seg), -1).sum(1)
    frame_area = first.shape[0] * first.shape[1]
    picks = [k for k in np.argsort(-seg.scores) if 0.005 * frame_area < areas[k] < 0.3 * frame_area][:2]
    prompts = []
    for object_id, k in enumerate(picks, 1):
        ys, xs = np.nonzero(seg.masks[k])
        i = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)  # a mask pixel near its centre
        prompts.append(ObjectPrompt(object_id, points=((float(xs[i]), float(ys[i])),), labels=(1,)))
    return tuple(prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--every", type=int, default=3)
    args = parser.parse_args()
    clips = args.clips or sorted(SHARED.glob("*.mp4"))
    segmenter = open_engine(ModelOptions(device="cpu", backend="onnx"))
    for path in clips:
        prompts = first_frame_prompts(segmenter, str(path))
        masks, cpu, model = {}, {}, {}
        for k in (1, args.every):
            run = timed_run(segmenter, str(path), PromptSet(prompts), args.frames, k)
            cpu[k], model[k] = run.cpu_s, run.model_frames
            masks[k] = {i: seg.label_map() for i, seg in run.shown.items()}
        n, ids = len(masks[1]), [p.object_id for p in prompts]
        agreement = [np.mean([iou(masks[1][i] == o, masks[args.every][i] == o) for i in range(n)]) for o in ids]
        steady = np.mean([np.mean([iou(masks[1][i] == o, masks[1][i + 1] == o) for i in range(n - 1)]) for o in ids])
        print(f"{path.stem:12} {len(ids)} objects: agreement J {np.mean(agreement):.3f} "
              f"({', '.join(f'{v:.3f}' for v in agreement)}); every-frame frame to frame J {steady:.3f}; "
              f"model on {model[args.every]}/{n}; frames/CPU-s {n / cpu[1]:.1f} vs {n / cpu[args.every]:.1f} "
              f"= {cpu[1] / cpu[args.every]:.2f}x", flush=True)


if __name__ == "__main__":
    main()
