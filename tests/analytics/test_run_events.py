"""`run --events FILE.jsonl` on a generated clip with known paths: every entry, exit, crossing
and loitering event exactly once, at the true frame (within inertia + 2), with the right direction."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fastsam_video import synth
from fastsam_video.analytics import parse_line, parse_zone

from ..conftest import ROOT
from .truth import line_truth, zone_truth

ZONE = "left:0,0;0.45,0;0.45,1;0,1:loiter=1"
LINE = "mid:0.5,0,0.5,1"


@pytest.fixture(scope="module")
def patrol(tmp_path_factory):
    clip = next(c for c in synth.zone_scenarios() if c.name == "patrol")
    folder = synth.write_clip(clip, tmp_path_factory.mktemp("zones"))
    _, labels, _ = synth.render_clip(clip)
    return folder, labels


def first_frame_points(labels) -> list[str]:
    points = []
    for object_id in (1, 2):
        ys, xs = np.nonzero(labels[0] == object_id)
        k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
        points += ["--object-points", f"{xs[k]},{ys[k]}"]
    return points


def test_run_events_match_the_true_paths(patrol, tmp_path):
    folder, labels = patrol
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(folder / "video.mp4"),
                           *first_frame_points(labels), "--zone", ZONE, "--line", LINE,
                           "--events", str(events_file), "--no-window"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    zone, line = parse_zone(ZONE), parse_line(LINE)
    inertia = zone.inertia
    for object_id in (1, 2):
        got = [(e["frame"], e["kind"] == "zone_entered") for e in events
               if e["object_id"] == object_id and e["kind"] in ("zone_entered", "zone_left")]
        truth = zone_truth(labels, object_id, zone)
        assert len(got) == len(truth) and [g[1] for g in got] == [t[1] for t in truth], (object_id, got, truth)
        assert all(0 <= g[0] - t[0] <= inertia + 2 or abs(g[0] - t[0]) <= 1 for g, t in zip(got, truth)), (got, truth)
        crossed = [(e["frame"], e["direction"]) for e in events
                   if e["object_id"] == object_id and e["kind"] == "line_crossed"]
        truth = line_truth(labels, object_id, line)
        assert [c[1] for c in crossed] == [t[1] for t in truth], (object_id, crossed, truth)
        assert all(abs(c[0] - t[0]) <= line.inertia + 2 for c, t in zip(crossed, truth)), (crossed, truth)
    # object 2 waits 1.5 s inside: loitering once, at 1 s after its entry (frame 0), within a frame
    loitering = [e for e in events if e["kind"] == "loitering"]
    assert [(e["object_id"], e["zone"]) for e in loitering] == [(2, "left")]
    assert abs(loitering[0]["frame"] - 30) <= 1
    # the line events carry their zone name and pts; the file is in the order they happened
    assert all(e["zone"] == "mid" and e["pts"] is not None for e in events if e["kind"] == "line_crossed")
    assert events[-1]["kind"] == "camera_ended"


@pytest.mark.parametrize("flag, expected", [
    (["--zone", "a:0.1,0.1;0.2,0.1"], "expected at least 3 points, got 2"),
    (["--zone", "a:0.1,0.1;1.2,0.1;0.5,0.5"], "is off the frame"),
    (["--zone", "a:0,0;1,1;1,0;0,1"], "crosses itself"),
    (["--zone", "a:0,0;1,0;1,1", "--line", "a:0,0,1,1"], "the name is used twice"),
    (["--line", "g:0,0,1"], "expected NAME:X1,Y1,X2,Y2"),
])
def test_bad_zones_are_one_line(flag, expected, capsys):
    from fastsam_video.cli import main

    try:
        code = main(["run", str(ROOT / "samples/clips/drift/video.mp4"), *flag])
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and expected in err and len(err.splitlines()) == 1, err
