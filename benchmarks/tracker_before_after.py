"""Every scored scenario (sample clips, occlusion and tracking scenarios) with the bundled model,
box and point prompts, the tracker of a git revision (default: the one before issue 21) against
this checkout's, on one pass of the model per clip. Prints a markdown table.

    uv run python benchmarks/tracker_before_after.py [--before REV] [--only NAME ...] [--out DIR]
    uv run python benchmarks/tracker_before_after.py --bench [--rounds 5]   # `bench tracker`'s cost

With --bench, the cost of `update` for 10 objects among 30 masks at 1280x720 (the scene of
`fastsam-video bench tracker`), the two trackers alternated round by round in one process.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from fastsam_video.bench import time_tracker, tracker_frames
from fastsam_video.evaluate import evaluate_kinds
from fastsam_video.engines import open_engine  # noqa: E402
from fastsam_video.options import ModelOptions
from fastsam_video.scenarios import all_scenarios
from fastsam_video.synth import write_clip
from fastsam_video.tracking import PromptTracker


def tracker_of(revision: str):
    """PromptTracker of the single-file tracker a revision holds (before the tracking package)."""
    source = subprocess.run(["git", "show", f"{revision}:fastsam_video/tracker.py"], check=True,
                            capture_output=True, text=True).stdout
    source = re.sub(r"^from \.(\w+) import", r"from fastsam_video.\1 import", source, flags=re.M)
    path = Path(tempfile.mkdtemp()) / "tracker_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("tracker_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tracker_before"] = module
    spec.loader.exec_module(module)
    return module.PromptTracker


def bench(old, rounds: int) -> None:
    data = tracker_frames(60)
    cases = {"before": lambda missed: time_tracker(old(), data, 10, missed),
             "after": lambda missed: time_tracker(PromptTracker(), data, 10, missed)}
    for missed in (0, 5):
        times = {name: [] for name in cases}
        for _ in range(rounds):
            for name, run in cases.items():  # alternated: the machine's load hits both alike
                times[name] += run(missed)[0]
        line = ", ".join(f"{name} median {np.median(t) * 1e3:.2f} ms, p95 {np.percentile(t, 95) * 1e3:.2f} ms"
                         for name, t in times.items())
        print(f"10 objects, 1280x720, {missed} missed every other frame: {line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="0af21e4", help="a revision with the single-file tracker "
                        "(default: the one before issue 21)")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fastsam-video-scenarios")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    old = tracker_of(args.before)
    if args.bench:
        bench(old, args.rounds)
        return
    segmenter = open_engine(ModelOptions(device="cpu"))
    print("| clip | obj | prompt | J before | J after | F before | F after | lost before | lost after "
          "| idsw before | idsw after | reacq before | reacq after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for clip in all_scenarios():
        if args.only and clip.name not in args.only:
            continue
        folder = write_clip(clip, args.out)
        cache = {}

        def segment(image, index):
            if index not in cache:
                cache[index] = segmenter.segment(image)
            return cache[index]

        before = evaluate_kinds(folder, segment, ("box", "point"), tracker=lambda config: old(config))
        after = evaluate_kinds(folder, segment, ("box", "point"))
        for kind, b, a in zip(("box", "point"), before, after):
            for ob, oa in zip(b.objects, a.objects):
                rb = max(ob.reacquire_frames) if ob.reacquire_frames else "-"
                ra = max(oa.reacquire_frames) if oa.reacquire_frames else "-"
                print(f"| {clip.name} | {ob.object_id} | {kind} | {ob.j:.3f} | {oa.j:.3f} | {ob.f:.3f} | {oa.f:.3f} "
                      f"| {ob.frames_lost} | {oa.frames_lost} | {ob.id_switches} | {oa.id_switches} | {rb} | {ra} |",
                      flush=True)


if __name__ == "__main__":
    main()
