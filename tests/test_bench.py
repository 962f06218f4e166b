"""The benchmark commands run end to end and report what they promise (numbers are not checked:
speed targets are measured by the benchmarks themselves, not asserted in tests)."""

from __future__ import annotations

import re
import time

import numpy as np

from fastsam_video.bench import ReplaySource, bench_pipeline, bench_soak

from .conftest import SAMPLES

CLIP = str(SAMPLES / "clips" / "drift" / "video.mp4")


def test_replay_source_delivers_frames_on_a_live_clock():
    frames = [np.full((8, 8, 3), i, np.uint8) for i in range(3)]
    start = time.monotonic()
    with ReplaySource(frames, fps=50, seconds=0.2) as source:
        got = list(source)
    assert source.live
    assert len(got) == 10 and [int(f.image[0, 0, 0]) for f in got[:4]] == [0, 1, 2, 0]  # loops
    assert time.monotonic() - start >= 9 / 50  # frame i is not ready before i / fps
    assert [f.pts for f in got[:2]] == [0.0, 0.02]


def test_pipeline_benchmark_reports_every_run_stage_and_ratio(segmenter):
    report = bench_pipeline(CLIP, segmenter, frames_limit=12, objects=2)
    rows = dict(re.findall(r"^(\([abc]\) [^\n]*?)\s+([\d.]+)\s+[\d.]+$", report, re.M))
    assert set(rows) == {f"(a) bare forward pass ({segmenter.backend})", "(b) this pipeline, end to end",
                         "(c) ultralytics FastSAM stream"}
    assert all(float(fps) > 0 for fps in rows.values())
    for stage in ("decode", "preprocess", "forward", "postprocess", "track", "render", "encode"):
        assert re.search(rf"\b{stage} [\d.]+", report), stage
    live = re.search(r"\(d\) live camera .* p50 (\d+) ms, p99 (\d+) ms .*; (\d+) frames shown", report)
    assert live and int(live[3]) > 0 and int(live[2]) >= int(live[1])
    assert "pipeline vs ultralytics" in report and "host RSS" in report


def test_soak_reports_memory_at_start_and_end(segmenter):
    lines = []
    summary = bench_soak(CLIP, segmenter, minutes=0.04, objects=1, report=lines.append)
    assert "looped as a live camera" in lines[0]
    frames = int(re.search(r"(\d+) frames", summary)[1])
    assert frames >= 30  # 2.4 s at the clip's 30 fps, less what the pipeline dropped as stale
    assert re.search(r"host RSS \d+ MB at start, \d+ MB at the end", summary)
