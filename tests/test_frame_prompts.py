"""Prompts on any frame from the command line and from a JSON file (issue 26): parsing, the
one-line errors, and `run` on a file end to end (exports and recording hold the object on the
frames before its prompt)."""

from __future__ import annotations

import json
from dataclasses import replace

import av
import numpy as np
import pytest

from fastsam_video.cli import build_parser, main
from fastsam_video.frame_prompts import AtFrame, load_prompts_file, schedule_of
from fastsam_video.sinks import read_davis_png
from fastsam_video.synth import sample_clips, write_clip
from fastsam_video.types import PromptError


def parse(*argv):
    return build_parser().parse_args(["run", "clip.mp4", *argv])


def test_flags_at_frames_become_objects_at_those_frames():
    args = parse("--box", "1,2,30,40@60", "--point", "3,4", "--point", "5,6:neg", "--point", "7,8@12")
    assert args.ordered_prompts[0] == ("box", AtFrame((1.0, 2.0, 30.0, 40.0), 60))
    schedule = schedule_of(args.ordered_prompts)
    got = [(e.frame, e.prompt.object_id, e.prompt.kind) for e in schedule.entries]
    assert got == [(0, 1, "points"), (12, 2, "points"), (60, 3, "box")]
    assert schedule.entries[0].prompt.labels == (1, 0)  # the frame-0 points are one object
    assert schedule.later and schedule.first_frames() == {1: 0, 2: 12, 3: 60}
    assert [o.object_id for o in schedule.initial().objects] == [1]
    assert not schedule_of(parse("--box", "1,2,30,40").ordered_prompts).later


def test_several_objects_on_one_frame_are_numbered_one_after_another():
    args = parse("--object-points", "3,4", "--object-points", "5,6", "--box", "1,2,30,40",
                 "--box", "1,2,30,40@9", "--box", "2,3,30,40@9")
    got = [(e.frame, e.prompt.object_id) for e in schedule_of(args.ordered_prompts).entries]
    assert got == [(0, 1), (0, 2), (0, 3), (9, 4), (9, 5)]


@pytest.mark.parametrize("flag, message", [
    ("--box=1,2,30,40@x", "expected @FRAME with a frame number"),
    ("--box=1,2,30,40@-3", "expected @FRAME with a frame number"),
    ("--point=3,4:neg@5", None),  # parses; the missing foreground point is the schedule's error
])
def test_bad_frames_are_one_line_errors(flag, message, capsys):
    if message is None:
        with pytest.raises(PromptError, match="at least one foreground point"):
            schedule_of(parse(flag).ordered_prompts)
        return
    with pytest.raises(SystemExit):
        parse(flag)
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def write(tmp_path, data) -> str:
    path = tmp_path / "prompts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_a_prompts_file_with_objects_and_a_correction(tmp_path):
    entries = load_prompts_file(write(tmp_path, [
        {"frame": 40, "object": 2, "box": [10, 10, 50, 60]},
        {"frame": 0, "object": 1, "points": [[5, 5], [20, 20, 0]]},
        {"frame": 50, "object": 2, "points": [[30, 30]], "correction": True},
        {"frame": 7, "text": "a red car"},
    ]))
    schedule = schedule_of([], entries)
    got = [(e.frame, e.prompt.object_id, e.prompt.kind) for e in schedule.entries]
    assert got == [(0, 1, "points"), (7, 3, "text"), (40, 2, "box"), (50, 2, "points")]
    assert schedule.entries[0].prompt.labels == (1, 0)
    assert schedule.first_frames() == {1: 0, 3: 7, 2: 40}
    later = schedule.apply(schedule.apply(schedule.initial(), 40), 50)
    assert [o.kind for o in later.objects if o.object_id == 2] == ["points"]  # the correction replaced the box


@pytest.mark.parametrize("data, message", [
    ("[{\"frame\": 0, ", "not valid JSON (line 1"),
    ({"frame": 0}, "expected a JSON list"),
    ([{"frame": 5, "object": 3, "box": [1, 2, 30, 40], "correction": True}],
     "correction of object 3 at frame 5, but it is not prompted before frame 5"),
    ([{"frame": 1, "object": 1, "box": [1, 2, 3]}], "\"box\" must be [x1, y1, x2, y2]"),
    ([{"frame": 1, "object": 1, "box": [1, 2, 3, 4], "text": "x"}], "exactly one of"),
    ([{"frame": -1, "object": 1, "box": [1, 2, 3, 4]}], "\"frame\" must be a frame number"),
    ([{"frame": 1, "obj": 1, "box": [1, 2, 3, 4]}], "unknown key 'obj'"),
    ([{"frame": 2, "object": 1, "box": [1, 2, 3, 4]}, {"frame": 2, "object": 1, "box": [1, 2, 5, 6]}],
     "object 1 has two prompts at frame 2"),
])
def test_bad_prompts_files_are_one_line_errors(tmp_path, capsys, data, message):
    with pytest.raises(SystemExit) as stopped:  # argparse's exit: status 2, one line
        main(["run", "clip.mp4", "--prompts", write(tmp_path, data)])
    code, err = stopped.value.code, capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.fixture(scope="module")
def drift_40(tmp_path_factory):
    clip = replace(next(c for c in sample_clips() if c.name == "drift"), frames=40)
    folder = write_clip(clip, tmp_path_factory.mktemp("clips"))
    return folder, [read_davis_png(p) for p in sorted((folder / "Annotations").glob("*.png"))]


def test_a_prompt_past_the_end_is_one_line_error_before_the_model_loads(drift_40, capsys):
    folder, _ = drift_40
    code = main(["run", str(folder / "video.mp4"), "--box", "1,2,30,40@40"])
    err = capsys.readouterr().err
    assert code == 2 and "at frame 40" in err and "has 40 frames (0-39)" in err and len(err.strip().splitlines()) == 1


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_run_with_a_box_at_a_later_frame_exports_every_frame_it_is_visible(drift_40, tmp_path):
    folder, truth = drift_40
    ys, xs = np.nonzero(truth[25] == 1)
    box = f"{xs.min()},{ys.min()},{xs.max() + 1},{ys.max() + 1}@25"
    code = main(["run", str(folder / "video.mp4"), "--box", box, "--no-window", "--export-every", "5",
                 "--export-masks", str(tmp_path / "masks"), "--export-yolo", str(tmp_path / "yolo"),
                 "--export-coco", str(tmp_path / "coco.json"), "--record", str(tmp_path / "out.mp4")])
    assert code == 0
    pngs = sorted((tmp_path / "masks").glob("*.png"))
    assert [p.stem for p in pngs] == [f"{k:05d}" for k in range(0, 40, 5)]
    for png in pngs:  # frames 0-20 come from the backward pass
        k = int(png.stem)
        assert iou(read_davis_png(png) == 1, truth[k] == 1) > 0.85, k
    assert len(list((tmp_path / "yolo" / "labels").glob("*.txt"))) == 8
    assert (tmp_path / "yolo" / "labels" / "00000.txt").read_text().startswith("0 ")
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert len(coco["images"]) == 8 and len(coco["annotations"]) == 8
    with av.open(str(tmp_path / "out.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == 40


@pytest.mark.parametrize("extra", [["--realtime"], ["--zone", "a:0,0;1,0;1,1"], None])
def test_the_file_mode_refuses_what_it_cannot_do_in_one_line(drift_40, capsys, extra):
    video = str(drift_40[0] / "video.mp4")
    sources = [video] if extra is not None else [video, video]  # None: two sources
    code = main(["run", *sources, "--box", "1,2,30,40@5", *(extra or [])])
    err = capsys.readouterr().err
    assert code == 2 and "annotate one video file" in err and len(err.strip().splitlines()) == 1, err
