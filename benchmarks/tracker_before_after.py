"""Every scored scenario (sample clips, occlusion and tracking scenarios) with the bundled model,
box and point prompts, the tracker of a git revision (default: main) against this checkout's,
on one pass of the model per clip. Prints a markdown table.

    uv run python benchmarks/tracker_before_after.py [--before main] [--only NAME ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from fastsam_video.evaluate import evaluate_kinds
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fastsam-video-scenarios")
    args = parser.parse_args()
    old = tracker_of(args.before)
    segmenter = ModelOptions(device="cpu").segmenter()
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
