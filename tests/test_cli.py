"""The command line as users type it: FastSAM's Inference.py flags, run, demo, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pytest
import torch

from fastsam_video.cli import main
from fastsam_video.options import object_prompts, parse_bool

from .conftest import ROOT, SAMPLES

IMAGE = SAMPLES / "images" / "scene0.jpg"
MODEL = ROOT / "weights" / "fastsam-video-n.pt"


def gt_object(index: int = 0) -> np.ndarray:
    from fastsam_video.sinks import read_davis_png

    truth = read_davis_png(SAMPLES / "images" / "scene0_gt.png")
    ids = sorted(set(np.unique(truth).tolist()) - {0}, key=lambda i: -(truth == i).sum())
    return truth == ids[index]


def changed(output_dir) -> np.ndarray:
    out = cv2.imread(str(output_dir / "scene0.png"))
    return np.abs(out.astype(int) - cv2.imread(str(IMAGE)).astype(int)).sum(2) > 0  # same decoder: untouched pixels are equal


def interior_point(mask: np.ndarray) -> tuple[int, int]:
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(np.argmax(dist), dist.shape)
    return int(x), int(y)


def run_cli(*args) -> int:
    return main([str(a) for a in args])


# ---------------------------------------------------------------- FastSAM's README, unchanged

def test_everything_mode(tmp_path, capsys):
    assert run_cli("image", "--model_path", MODEL, "--img_path", IMAGE, "--output", f"{tmp_path}/") == 0
    assert "everything:" in capsys.readouterr().out
    assert changed(tmp_path)[gt_object()].mean() > 0.8


def test_box_prompt_xywh(tmp_path):
    ys, xs = np.nonzero(gt_object())
    box = f"[[{xs.min()},{ys.min()},{xs.max() - xs.min() + 1},{ys.max() - ys.min() + 1}]]"
    assert run_cli("image", "--model_path", MODEL, "--img_path", IMAGE, "--box_prompt", box,
                   "--output", f"{tmp_path}/") == 0
    diff = changed(tmp_path)
    assert diff[gt_object()].mean() > 0.8
    assert diff[~gt_object()].mean() < 0.1  # only the box's object (and the box outline)


def test_points_with_labels(tmp_path):
    obj, other = gt_object(0), gt_object(1)
    (x1, y1), (x2, y2) = interior_point(obj), interior_point(other)
    assert run_cli("image", "--model_path", MODEL, "--img_path", IMAGE, "--point_prompt", f"[[{x1},{y1}],[{x2},{y2}]]",
                   "--point_label", "[1,0]", "--better_quality", "False", "--withContours", "True",
                   "--output", f"{tmp_path}/") == 0
    diff = changed(tmp_path)
    assert diff[obj].mean() > 0.8 and diff[other].mean() < 0.2


def test_text_prompt_without_clip_weights_says_which_file_to_put_where(tmp_path, monkeypatch, capsys):
    import clip.clip

    def offline(url, root):
        raise OSError("network unreachable")

    monkeypatch.setattr(clip.clip, "_download", offline)
    code = run_cli("image", "--model_path", MODEL, "--img_path", IMAGE, "--text_prompt", "the yellow dog",
                   "--output", f"{tmp_path}/")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "ViT-B-32.pt" in err and "weights/" in err


def test_text_prompt_with_a_local_clip(tmp_path, capsys):
    from .test_prompts import tiny_clip

    torch.save(tiny_clip().state_dict(), tmp_path / "clip.pt")
    assert run_cli("image", IMAGE, "--text", "a red square", "--clip-model", tmp_path / "clip.pt",
                   "--output", tmp_path) == 0
    assert "text: 1 mask" in capsys.readouterr().out


def test_fastsam_booleans_mean_what_they_say():
    assert parse_bool("False") is False and parse_bool("True") is True and parse_bool("0") is False


@pytest.mark.parametrize("args, expected", [
    (["--box_prompt", "[[1,2,3]]"], "--box_prompt"),
    (["--point_prompt", "[[1,2],[3,4]]", "--point_label", "[1]"], "2 points but --point_label has 1"),
    (["--point_prompt", "[[1,2]]", "--point_label", "[2]"], "--point_label"),
    (["--point", "12"], "expected 2 comma-separated numbers"),
    (["--box", "10,10,5,5"], "X1 < X2"),
])
def test_malformed_prompts_give_one_line(args, expected, tmp_path, capsys):
    with pytest.raises(SystemExit) if args[0] in ("--point", "--box") else _no_exit():
        code = run_cli("image", IMAGE, *args, "--output", tmp_path)
        assert code == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_missing_and_corrupt_images_are_one_line(tmp_path, capsys):
    assert run_cli("image", tmp_path / "missing.jpg") == 2
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    assert run_cli("image", broken) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "image not found" in lines[0] and "cannot read" in lines[1]


def test_missing_weights_is_one_line(tmp_path, capsys):
    assert run_cli("image", IMAGE, "--model", tmp_path / "nope.pt") == 2
    assert "model file not found" in capsys.readouterr().err


# ---------------------------------------------------------------- run / demo

def test_prompt_flags_become_objects_in_the_order_given():
    from fastsam_video.cli import build_parser

    args = build_parser().parse_args(["run", "x.mp4", "--box", "1,2,30,40", "--point", "5,6", "--text", "a cat",
                                      "--point", "7,8:neg", "--object-points", "50,60;70,80:neg"])
    prompts = object_prompts(args.ordered_prompts)
    assert [(p.object_id, p.kind) for p in prompts] == [(1, "box"), (2, "points"), (3, "text"), (4, "points")]
    assert prompts[1].points == ((5, 6), (7, 8)) and prompts[1].labels == (1, 0)
    assert prompts[3].labels == (1, 0)


@pytest.mark.parametrize("source, expected", [
    ("{tmp}/missing.mp4", "no such file"),
    ("{tmp}/notes.mp4", "not"),
    ("rtsp://user:secret@127.0.0.1:9/stream", "127.0.0.1"),
    ("webcam:3", "webcam 3"),
])
def test_bad_sources_fail_fast_with_one_line(source, expected, tmp_path, capsys):
    (tmp_path / "notes.mp4").write_text("this is a text file, not a video")
    started = time.monotonic()
    code = run_cli("run", source.format(tmp=tmp_path), "--no-window", "--open-timeout", "2", "--no-reconnect")
    err = capsys.readouterr().err.strip()
    assert code == 2 and time.monotonic() - started < 10
    assert len(err.splitlines()) == 1 and expected in err
    assert "secret" not in err


def test_run_records_and_exports_a_file(tmp_path):
    clip = SAMPLES / "clips" / "occlusion" / "video.mp4"
    assert run_cli("run", clip, "--point", "150,120", "--record", tmp_path / "out.mp4", "--export-masks",
                   tmp_path / "masks", "--export-coco", tmp_path / "coco.json", "--no-window", "--hud") == 0
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 70
    assert len(list((tmp_path / "masks").glob("*.png"))) == 70


def test_demo_writes_an_annotated_video(tmp_path, capsys):
    assert run_cli("demo", "--output", tmp_path) == 0
    assert str(tmp_path / "demo.mp4") in capsys.readouterr().out
    with av.open(str(tmp_path / "demo.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 60


def start_recording_process(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "fastsam_video", "run", "lavfi:testsrc2=size=320x240:rate=30,realtime",
         "--record", str(tmp_path / "live.mp4"), "--no-window"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for_frames(path, seconds: float) -> None:
    deadline = time.monotonic() + 60
    while not (path.exists() and path.stat().st_size > 20_000) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(seconds)


def decoded(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_ctrl_c_stops_cleanly_and_closes_the_recording(tmp_path):
    process = start_recording_process(tmp_path)
    wait_for_frames(tmp_path / "live.mp4", 2.0)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out.decode()  # 128 + SIGINT, like any interrupted command
    assert decoded(tmp_path / "live.mp4") >= 10


def test_sigkill_keeps_what_was_recorded(tmp_path):
    process = start_recording_process(tmp_path)
    wait_for_frames(tmp_path / "live.mp4", 3.0)
    process.kill()
    process.wait(timeout=30)
    assert decoded(tmp_path / "live.mp4") >= 10


def cut_short(clip, target, keep: float = 0.3):
    """The first `keep` of `clip`'s bytes, remuxed first so that its header (moov) comes first:
    the header announces every frame, the data holds a third of them."""
    with av.open(str(clip)) as inp, av.open(str(target) + ".full.mp4", "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = open(str(target) + ".full.mp4", "rb").read()
    target.write_bytes(data[:int(len(data) * keep)])


def test_a_file_cut_short_says_so(tmp_path, caplog):
    cut_short(SAMPLES / "clips" / "crossing" / "video.mp4", tmp_path / "cut.mp4")
    with caplog.at_level("INFO", logger="fastsam_video"):
        assert run_cli("run", tmp_path / "cut.mp4", "--no-window", "--imgsz", "160") == 0
    warning = [r.getMessage() for r in caplog.records if "cut short" in r.getMessage()]
    assert len(warning) == 1 and "cut.mp4 ended after" in warning[0] and "of 60 frames" in warning[0], caplog.text


def test_a_whole_file_says_nothing_of_the_kind(tmp_path, caplog):
    with caplog.at_level("INFO", logger="fastsam_video"):
        assert run_cli("run", SAMPLES / "clips" / "crossing" / "video.mp4", "--no-window", "--imgsz", "160",
                       "--max-frames", "20") == 0
    assert "cut short" not in caplog.text and "done: 20 frames" in caplog.text


# ---------------------------------------------------------------- instant answers, the models at work

HEAVY = ("torch", "torchvision", "ultralytics", "cv2", "av", "PyQt6", "fastapi", "ray", "onnxruntime", "clip")
LIGHT_PATHS = [["--help"]] + [[command, "--help"] for command in
                               ("image", "run", "demo", "eval", "bench", "gui", "serve", "models")] + [
    ["models"],
    ["run", "clip.mp4", "--imgsz", "-5"],  # argument errors
    ["image", "--conf", "2"],
    ["bench", "nothing"],
    ["image", "{tmp}/missing.jpg"],  # missing files
    ["image", str(IMAGE), "--model", "{tmp}/nope.pt"],
    ["run", "{tmp}/missing.mp4", "--no-window"],
    ["run", str(SAMPLES / "clips" / "crossing" / "video.mp4"), "--no-window", "--model", "{tmp}/nope.pt"],
    ["eval", "{tmp}"],
    ["bench", "pipeline", "{tmp}/missing.mp4"],
    ["demo", "--no-window", "--model", "{tmp}/nope.pt"],
]


@pytest.mark.parametrize("argv", LIGHT_PATHS, ids=" ".join)
def test_help_usage_and_missing_files_load_no_heavy_module(argv, tmp_path):
    """What a typo costs: the answer comes before torch, OpenCV, Qt or FastAPI load (seconds each)."""
    script = ("import sys\nfrom fastsam_video.cli import main\n"
              "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
              f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
              "print('HEAVY', ','.join(heavy), 'CODE', code)\n")
    done = subprocess.run([sys.executable, "-c", script, *(a.format(tmp=tmp_path) for a in argv)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "DISPLAY": ""})
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("HEAVY  CODE"), f"{last}\n{done.stderr}"
    expected = 0 if argv[-1] in ("--help", "models") else 2
    assert last.endswith(f"CODE {expected}"), done.stderr
    if expected == 2:
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr


def test_models_lists_the_checkpoints_and_where_they_are(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "FastSAM-x.pt").write_bytes(b"downloaded before")
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "models"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "FASTSAM_VIDEO_CACHE": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line[:1].strip()}
    assert "present" in rows["fastsam-video-n.pt"] and str(MODEL) in done.stdout
    assert " missing " in rows["FastSAM-s.pt"] and " present " in rows["FastSAM-x.pt"]
    assert " missing " in rows["ViT-B-32.pt"] and "openaipublic" in done.stdout
    assert str(tmp_path / "weights" / "FastSAM-x.pt") in done.stdout
    assert f"{ROOT / 'weights'}/, {tmp_path / 'weights'}/" in done.stdout  # the checkout first, then the cache
    assert "https://github.com/ultralytics/assets/releases/download/v8.4.0/FastSAM-s.pt" in done.stdout


def test_the_bundled_model_on_a_users_image_says_so(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(IMAGE.read_bytes())
    assert run_cli("image", photo, "--output", tmp_path / "out") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bundled model" in err[0] and "--model FastSAM-s.pt" in err[0]
    assert run_cli("image", photo, "--model", MODEL, "--output", tmp_path / "out") == 0  # a chosen file: no note
    assert run_cli("image", IMAGE, "--output", tmp_path / "out") == 0  # the bundled samples: no note
    assert capsys.readouterr().err == ""
