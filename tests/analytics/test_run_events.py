"""`run --events FILE.jsonl` on a generated clip with known paths: every entry, exit, crossing
and loitering event exactly once, at the true frame (within inertia + 2), with the right direction."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fastsam_video import synth
from fastsam_video.analytics import parse_line, parse_zone

from ..conftest import ROOT
from .truth import assert_zone_events, first_frame_points, zone_truth

ZONE = "left:0,0;0.45,0;0.45,1;0,1:loiter=1"
LINE = "mid:0.5,0,0.5,1"


@pytest.fixture(scope="module")
def patrol(tmp_path_factory):
    clip = next(c for c in synth.zone_scenarios() if c.name == "patrol")
    folder = synth.write_clip(clip, tmp_path_factory.mktemp("zones"))
    _, labels, _ = synth.render_clip(clip)
    return folder, labels


@pytest.mark.slow
def test_run_events_match_the_true_paths(patrol, tmp_path):
    folder, labels = patrol
    events_file = tmp_path / "events.jsonl"
    points = [arg for x, y in first_frame_points(labels) for arg in ("--object-points", f"{x},{y}")]
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(folder / "video.mp4"), *points,
                           "--zone", ZONE, "--line", LINE, "--events", str(events_file), "--no-window",
                           "--record", str(tmp_path / "out.mp4")],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert_zone_events(events, labels, parse_zone(ZONE), parse_line(LINE))
    assert events[-1]["kind"] == "recording_stopped" and events[-2]["kind"] == "camera_ended"
    # the recording shows the zone: its name tag (filled amber or red) at the zone's top-left corner
    import av

    with av.open(str(tmp_path / "out.mp4")) as video:
        frame = next(f for i, f in enumerate(video.decode(video=0)) if i == 40).to_ndarray(format="rgb24")
    r, g, b = frame[6:14, 1:4].reshape(-1, 3).mean(0)
    assert r > 170 and b < 110, (r, g, b)


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


@pytest.mark.slow
def test_a_detect_new_zone_tracks_and_counts_objects_with_no_prompt(patrol, tmp_path):
    folder, labels = patrol
    events_file = tmp_path / "events.jsonl"
    flag = "right:0.55,0;1,0;1,1;0.55,1:detect_new=1"
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(folder / "video.mp4"), "--zone", flag,
                           "--events", str(events_file), "--no-window"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    added = [e["object_id"] for e in events if e["kind"] == "object_added"]
    zone = parse_zone(flag)
    truths = sorted((zone_truth(labels, davis_id, zone) for davis_id in (1, 2)), key=lambda t: t[0][0])
    assert len(added) == 2  # each object became one tracked object, once
    for object_id, truth in zip(added, truths):
        got = [(e["frame"], e["kind"] == "zone_entered") for e in events
               if e["object_id"] == object_id and e["kind"] in ("zone_entered", "zone_left")]
        assert [g[1] for g in got] == [t[1] for t in truth], (object_id, got, truth)
        assert all(abs(g[0] - t[0]) <= zone.inertia + 2 for g, t in zip(got, truth)), (got, truth)
