"""Recorder, exporters and the sink thread: files that really play back and decode."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from fastsam_video.sinks import (DAVIS_PALETTE, CocoExporter, DavisExporter, SegmentedRecorder, SinkThread,
                                 VideoRecorder, finalize_coco, jsonl_path, read_davis_png, rle_decode, rle_encode,
                                 write_davis_png)
from fastsam_video.sinks.coco import frame_record
from fastsam_video.types import RecordingError, Segmentation

REPO = Path(__file__).resolve().parents[1]
# pycocotools' decode under numpy 2 (its own code, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return [frame for frame in container.decode(video=0)]


def cv2_frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def textured(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth moving pattern: gentle on the encoder, no scene cuts."""
    y, x = np.mgrid[0:h, 0:w]
    value = 128 + 60 * np.sin((x + 2 * i) / 7.0) * np.cos(y / 9.0)
    return np.repeat(value[..., None], 3, axis=2).astype(np.uint8)


# --- recorder ----------------------------------------------------------------------------

def test_recording_keeps_every_frame_its_variable_timing_and_its_pixels(tmp_path):
    rng = np.random.default_rng(0)
    times = 1000.0 + np.cumsum(rng.uniform(0.01, 0.09, 25))  # irregular, like a real capture
    path = tmp_path / "out" / "rec.mp4"  # the folder does not exist yet
    with VideoRecorder(path) as recorder:
        for i, t in enumerate(times):
            recorder.write(np.full((48, 64, 3), 10 * i, np.uint8), float(t))
        assert recorder.frames_written == 25
    frames = decoded(path)
    assert len(frames) == 25 and cv2_frame_count(path) == 25
    assert np.abs(np.array([f.time for f in frames]) - (times - times[0])).max() < 1e-3
    assert recorder.duration == pytest.approx(times[-1] - times[0], abs=1e-4)
    levels = [float(f.to_ndarray(format="bgr24").mean()) for f in frames]
    assert np.abs(np.array(levels) - 10 * np.arange(25)).max() < 5


def test_keyframes_come_about_every_second(tmp_path):
    path = tmp_path / "rec.mp4"
    with VideoRecorder(path, keyframe_seconds=1.0) as recorder:
        for i in range(100):  # 3.3 s at 30 fps
            recorder.write(textured(i), i / 30)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keys = [float(p.pts * stream.time_base) for p in container.demux(stream) if p.size and p.is_keyframe]
    assert keys == pytest.approx([0, 1, 2, 3], abs=0.04)


def test_equal_or_backward_capture_times_still_give_increasing_pts(tmp_path):
    path = tmp_path / "rec.mp4"
    with VideoRecorder(path) as recorder:
        for t in (5.0, 5.0, 5.04, 5.03, 5.1):
            recorder.write(textured(0), t)
    pts = [f.pts for f in decoded(path)]
    assert len(pts) == 5 and all(a < b for a, b in zip(pts, pts[1:]))


def test_odd_frame_sizes_are_padded_to_even(tmp_path):
    path = tmp_path / "rec.mp4"
    with VideoRecorder(path) as recorder:
        for i in range(3):
            recorder.write(textured(i, 25, 33), i / 30)
    frames = decoded(path)
    assert len(frames) == 3 and (frames[0].width, frames[0].height) == (34, 26)


def test_a_new_frame_size_goes_on_in_a_new_file_at_that_size(tmp_path):
    (tmp_path / "rec-3.mp4").write_bytes(b"an earlier file")  # never replaced by a roll
    sizes = [(48, 64)] * 4 + [(120, 160)] * 3 + [(48, 64)] * 2  # a camera reconfigured, then back
    with VideoRecorder(tmp_path / "rec.mp4") as recorder:
        for i, (h, w) in enumerate(sizes):
            recorder.write(textured(i, h, w), 10 + i / 30)
        assert recorder.path == tmp_path / "rec-4.mp4" and recorder.size == (64, 48)
        with pytest.raises(RecordingError, match=r"expected \(H, W, 3\) uint8 BGR"):
            recorder.write(np.zeros((480, 640), np.uint8), 0.2)
    assert recorder.paths == [tmp_path / "rec.mp4", tmp_path / "rec-2.mp4", tmp_path / "rec-4.mp4"]
    assert (tmp_path / "rec-3.mp4").read_bytes() == b"an earlier file"
    for path, count, size in zip(recorder.paths, (4, 3, 2), ((64, 48), (160, 120), (64, 48))):
        frames = decoded(path)  # each file plays on its own, from a keyframe at time 0
        assert len(frames) == count and (frames[0].width, frames[0].height) == size
        assert frames[0].key_frame and frames[0].time == 0.0
    assert recorder.frames_written == 9 and recorder.duration == pytest.approx((3 + 2 + 1) / 30, abs=1e-3)


def test_unwritable_paths_and_bad_settings_are_recording_errors(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(RecordingError, match=f"^cannot record to {tmp_path}: it is a folder; give a file name "
                                             f"like {tmp_path}/rec.mp4$"):
        VideoRecorder(tmp_path)
    with pytest.raises(RecordingError, match="cannot create folder"):
        VideoRecorder(tmp_path / "a_file" / "rec.mp4")
    with pytest.raises(RecordingError, match="cannot create folder"):
        SegmentedRecorder(tmp_path / "a_file" / "seg-{index}.mp4", 10)
    recorder = VideoRecorder(tmp_path / "rec.mp4", preset="warp-speed")
    with pytest.raises(RecordingError, match="recording to .* failed at frame 0") as info:
        recorder.write(textured(0), 0.0)
    assert "\n" not in str(info.value) and isinstance(info.value.__cause__, av.error.FFmpegError)
    with pytest.raises(RecordingError, match="broken by an earlier error"):
        recorder.write(textured(1), 0.1)
    recorder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_recorder_makes_its_file_at_the_first_frame_never_before(tmp_path):
    recorder = VideoRecorder(tmp_path / "new" / "rec.mp4")  # checked: the folder is made, no file yet
    segments = SegmentedRecorder(tmp_path / "seg-{index}.mp4", 10)
    assert not (tmp_path / "new" / "rec.mp4").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["new"]
    recorder.write(textured(0), 0.0)
    assert (tmp_path / "new" / "rec.mp4").stat().st_size > 0  # low latency: the frame is in the file at once
    recorder.close()
    segments.close()
    assert len(decoded(tmp_path / "new" / "rec.mp4")) == 1 and not (tmp_path / "seg-1.mp4").exists()


def test_close_is_idempotent_and_an_empty_recording_leaves_no_file(tmp_path):
    recorder = VideoRecorder(tmp_path / "empty.mp4")
    recorder.close()
    recorder.close()
    assert not (tmp_path / "empty.mp4").exists()
    with pytest.raises(RecordingError, match="is closed"):
        recorder.write(textured(0), 0.0)


KILLED_RECORDER = r"""
import sys, time
import numpy as np
from fastsam_video.sinks import VideoRecorder
recorder = VideoRecorder(sys.argv[1])
y, x = np.mgrid[0:240, 0:320]
start = time.monotonic()
i = 0
while True:
    image = (128 + 60 * np.sin((x + 2 * i) / 7.0) * np.cos(y / 9.0)).astype(np.uint8)
    recorder.write(np.dstack([image] * 3), time.monotonic())
    i += 1
    print(i, flush=True)
    time.sleep(max(0.0, start + i / 30 - time.monotonic()))
"""


def test_sigkill_loses_only_the_unfinished_fragment(tmp_path):
    path = tmp_path / "killed.mp4"
    process = subprocess.Popen([sys.executable, "-c", KILLED_RECORDER, str(path)],
                               stdout=subprocess.PIPE, text=True, cwd=REPO)
    written = 0
    try:
        deadline = None  # from the first frame: starting Python and torch may take long on a busy machine
        for line in process.stdout:  # records ~30 fps; kill it after ~3 s
            written = int(line)
            deadline = deadline or time.monotonic() + 20
            if written >= 90 or time.monotonic() > deadline:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(5)
        process.stdout.close()
    assert written >= 90
    frames = decoded(path)  # opens and decodes to the end without an error
    # lost: only the fragment since the last keyframe (<= 1 s: 30 frames, 31 with timing
    # jitter); nothing waits inside the encoder any more (zerolatency). Measured losses over
    # 10 kills: 2..30 frames (before the fix, with x264's lookahead: 13..41).
    assert written - 30 - 5 <= len(frames) <= written
    assert all(a.pts < b.pts for a, b in zip(frames, frames[1:]))


def test_a_low_latency_recorder_holds_no_frame_inside_the_encoder(tmp_path):
    with VideoRecorder(tmp_path / "live.mp4") as live, \
            VideoRecorder(tmp_path / "offline.mp4", low_latency=False) as offline:
        for i in range(40):
            for recorder in (live, offline):
                recorder.write(textured(i), i / 30)
            assert live.packets_written == live.frames_written == i + 1  # a frame in, a packet out
        assert offline.frames_written - offline.packets_written >= 5  # x264's lookahead holds frames back
    assert len(decoded(tmp_path / "live.mp4")) == len(decoded(tmp_path / "offline.mp4")) == 40



# --- segmented recording -------------------------------------------------------------------

def test_segments_roll_every_n_seconds_each_a_complete_file(tmp_path):
    times = 100 + np.arange(100) / 30  # 3.3 s at 30 fps
    times[60:] += 5.0  # a camera that was away for 5 s: a gap, then a new segment
    with SegmentedRecorder(tmp_path / "out-{index:04d}.mp4", segment_seconds=1.0) as recorder:
        for i, t in enumerate(times):
            recorder.write(textured(i), float(t))
        assert recorder.path == tmp_path / "out-0004.mp4"
    assert [p.name for p in recorder.paths] == ["out-0001.mp4", "out-0002.mp4", "out-0003.mp4", "out-0004.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in recorder.paths]
    counts = []
    for path in recorder.paths:
        frames = decoded(path)  # each one plays on its own, from a keyframe at time 0
        assert frames[0].key_frame and frames[0].time == 0.0
        counts.append(len(frames))
    assert counts == [30, 30, 30, 10] and recorder.frames_written == sum(counts) == 100


def test_segment_names_come_from_the_time_and_never_replace_a_file(tmp_path):
    (tmp_path / "cams").mkdir()
    for spec in (tmp_path / "cam.mp4", tmp_path / "cams", str(tmp_path / "new") + "/"):
        with SegmentedRecorder(spec, segment_seconds=0.1) as recorder:
            t0 = time.monotonic()  # frames timed from one reading: a busy machine does not add segments
            for i in range(4):  # two frames a segment, all within one second of the clock
                recorder.write(textured(i), t0 + i * 0.06)
        names = [p.name for p in recorder.paths]
        assert len(names) == 2 and all(p.exists() and p.parent.is_dir() for p in recorder.paths), names
        stem = "cam" if str(spec).endswith(".mp4") else "rec"
        assert re.fullmatch(stem + r"-\d{8}-\d{6}\.mp4", names[0]), names
        # both segments usually start within one clock second: the second one gets "-2"
        assert names[1] == names[0][:-4] + "-2.mp4" or re.fullmatch(stem + r"-\d{8}-\d{6}\.mp4", names[1])
    with pytest.raises(RecordingError, match="bad segment name pattern"):
        SegmentedRecorder(tmp_path / "x-{nope}.mp4", 10)
    with pytest.raises(RecordingError, match="segment length must be positive"):
        SegmentedRecorder(tmp_path / "x.mp4", 0)


def test_a_new_frame_size_starts_a_new_segment(tmp_path):
    with SegmentedRecorder(tmp_path / "s{index}.mp4", segment_seconds=60) as recorder:
        for i in range(3):
            recorder.write(textured(i), i / 30)
        for i in range(3, 5):  # the camera came back at another resolution
            recorder.write(textured(i, 24, 32), i / 30)
        with pytest.raises(RecordingError, match="expected \\(H, W, 3\\) uint8 BGR"):
            recorder.write(np.zeros((24, 32), np.uint8), 1.0)
    assert [len(decoded(p)) for p in recorder.paths] == [3, 2]
    assert (decoded(recorder.paths[1])[0].width, recorder.segments) == (32, 2)


# --- DAVIS -------------------------------------------------------------------------------

def test_davis_png_round_trip_keeps_ids_in_palette_mode(tmp_path):
    import torch  # a tensor is taken as well (copied to the host)

    labels = np.random.default_rng(0).integers(0, 256, (30, 40)).astype(np.uint8)
    write_davis_png(tmp_path / "sub" / "00000.png", torch.from_numpy(labels))
    with Image.open(tmp_path / "sub" / "00000.png") as image:
        assert image.mode == "P"
        assert image.getpalette()[:12] == [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]
    assert np.array_equal(read_davis_png(tmp_path / "sub" / "00000.png"), labels)
    assert DAVIS_PALETTE[255].tolist() == [224, 224, 192]  # the VOC colour map's last entry


def test_davis_ids_over_255_are_refused(tmp_path):
    with pytest.raises(RecordingError, match="object id 300 does not fit a DAVIS PNG"):
        write_davis_png(tmp_path / "x.png", np.array([[0, 300]]))


def two_objects(h: int = 6, w: int = 8, ids: tuple[int, int] = (3, 7)) -> Segmentation:
    masks = np.zeros((2, h, w), dtype=bool)
    masks[0, 1:5, 1:7] = True  # large
    masks[1, 2:4, 2:4] = True  # small, on top
    return Segmentation.of(masks, [[1, 1, 7, 5], [2, 2, 4, 4]], [0.9, 0.75], ids)


def test_davis_exporter_writes_one_label_png_per_frame(tmp_path):
    with DavisExporter(tmp_path / "masks") as exporter:
        exporter.write(3, two_objects())
        exporter.write(4, Segmentation.empty(6, 8))
        with pytest.raises(RecordingError, match="object id 999 at frame 5"):
            exporter.write(5, two_objects(ids=(1, 999)))
    labels = read_davis_png(tmp_path / "masks" / "00003.png")
    assert labels[1, 1] == 3 and labels[2, 2] == 7 and labels[0, 0] == 0
    assert not read_davis_png(tmp_path / "masks" / "00004.png").any()
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["00003.png", "00004.png"]


def test_davis_exporter_writes_each_frame_at_its_own_size(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(RecordingError, match="it is a file; give a folder like"):
        DavisExporter(tmp_path / "a_file")
    with DavisExporter(tmp_path / "masks") as exporter:
        exporter.write(0, two_objects(6, 8))
        exporter.write(1, two_objects(30, 40))  # the camera came back at another resolution
    assert read_davis_png(tmp_path / "masks" / "00000.png").shape == (6, 8)
    big = read_davis_png(tmp_path / "masks" / "00001.png")
    assert big.shape == (30, 40) and big[1, 1] == 3 and big[2, 2] == 7


# --- COCO RLE ----------------------------------------------------------------------------

def test_rle_known_answers():
    # Hand-computed: column-major 0,0 | 1,0 | 1,1 -> runs [2 zeros, 1 one, 1 zero, 2 ones];
    # chars are 48 + value, and the 4th count is stored as 2 - counts[1] = 1.
    assert rle_encode(np.array([[0, 1, 1], [0, 0, 1]])) == {"size": [2, 3], "counts": "2111"}
    # A count of 20 needs a continuation char ("d" = 48 + 0x20 + 20, then "0");
    # 100 = 4 + 3 * 32 gives "T" (48 + 0x20 + 4) then "3".
    assert rle_encode(np.ones((4, 5)))["counts"] == "0d0"
    assert rle_encode(np.zeros((10, 10)))["counts"] == "T3"
    # Negative difference: runs [0, 5, 3, 1] store 1 - 5 = -4 as 0x1C -> "L".
    mask = np.array([[1, 1, 1, 1, 1, 0, 0, 0, 1]]).T
    assert rle_encode(mask)["counts"] == "053L"
    assert rle_encode(np.zeros((0, 0))) == {"size": [0, 0], "counts": "0"}
    # A mask encoded by pycocotools (github.com/armengot/COCOtoolsFORK, python/README.md)
    coco = ("0g05b08J4M2N2NA^O1`0OCO=0E090H080IO68DH;>@C>a0_O_O`0j0OWOF<:CM72I24NL43JM92FN;1ENKO72L0LO91J0MO9"
            "2INO0NO122OO0M031O000NO31OO11MO40N011MO41MO21L06OL021L06OL021L06OL021L060J040L060J040L060J040L060J"
            "040L060J040L060J040L060KO31L060KO31L06OL021L06OL021L06OL021MO41MO21MO40N100NO310O00M0310O00NO1220"
            "NO92IONO91KOMO72M0<1EO:2GN63KM34OLM73JF<;=1G_O_Ob0=AC`07EH=1IO71H090F0:1DO>1_O1b0>2N2N3L6H]O")
    decoded_mask = rle_decode({"size": [50, 70], "counts": coco})
    assert decoded_mask.shape == (50, 70) and decoded_mask.sum() == 2346
    assert rle_encode(decoded_mask)["counts"] == coco


def test_rle_round_trips_random_masks():
    import torch  # a tensor is taken as well (copied to the host)

    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(1, 40, 2)
        mask = rng.random((h, w)) < rng.random()
        rle = rle_encode(torch.from_numpy(mask) if rng.random() < 0.5 else mask)
        assert rle["size"] == [h, w]
        assert np.array_equal(rle_decode(rle), mask)
    with pytest.raises(ValueError, match="counts cover 5 pixels, expected 2x3=6"):
        rle_decode({"size": [2, 3], "counts": [2, 3]})


def test_rle_matches_pycocotools(tmp_path):
    rng = np.random.default_rng(1)
    for _ in range(50):
        h, w = rng.integers(1, 60, 2)
        mask = rng.random((h, w)) < rng.random()
        ours = rle_encode(mask)
        theirs = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
        assert ours["counts"].encode() == theirs["counts"] and ours["size"] == theirs["size"]
        assert np.array_equal(rle_decode(ours), coco_mask.decode(theirs).astype(bool))
        assert np.array_equal(rle_decode({"size": [h, w], "counts": theirs["counts"]}), mask)


def test_coco_exporter_streams_lines_then_writes_standard_coco_json(tmp_path):
    path = tmp_path / "out" / "results.json"
    exporter = CocoExporter(path)
    assert exporter.jsonl == tmp_path / "out" / "results.jsonl" == jsonl_path(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any((tmp_path / "out").iterdir())
    exporter.write(0, two_objects())
    exporter.write(1, Segmentation.empty(6, 8))
    lines = exporter.jsonl.read_text().splitlines()  # on disk at once, without close()
    assert [json.loads(line)["image"]["id"] for line in lines] == [0, 1] and not path.exists()
    exporter.write(2, two_objects(30, 40))  # another frame size: the image says so
    exporter.close()
    exporter.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]  # the .jsonl is gone
    data = json.loads(path.read_text())
    assert data["categories"] == [{"id": 1, "name": "object"}]
    assert data["images"][0] == {"id": 0, "width": 8, "height": 6, "file_name": "00000.png"}
    assert (data["images"][2]["width"], data["images"][2]["height"]) == (40, 30)
    annotations = data["annotations"]
    assert [a["id"] for a in annotations] == [1, 2, 3, 4] and [a["image_id"] for a in annotations] == [0, 0, 2, 2]
    big, small = annotations[:2]
    assert np.array_equal(rle_decode(big["segmentation"]), two_objects().masks[0])
    assert (big["bbox"], big["area"], big["object_id"], big["iscrowd"], big["category_id"]) == ([1, 1, 6, 4], 24, 3, 0, 1)
    assert (small["bbox"], small["area"], small["object_id"]) == ([2, 2, 2, 2], 4, 7)
    assert small["score"] == pytest.approx(0.75)
    # the standard tools read it as it is: pycocotools' COCO index, masks, areas and boxes
    coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == [0, 1, 2] and len(coco.getAnnIds(imgIds=[2])) == 2
    for ann in annotations:
        mask = coco.annToMask(coco.anns[ann["id"]])
        image = coco.imgs[ann["image_id"]]
        assert mask.shape == (image["height"], image["width"])
        assert np.array_equal(mask.astype(bool), rle_decode(ann["segmentation"]))
        assert ann["area"] == int(coco_mask.area(ann["segmentation"])) == mask.sum()
        assert ann["bbox"] == coco_mask.toBbox(ann["segmentation"]).tolist()


def test_an_exporter_without_frames_leaves_no_file_and_a_bad_path_fails_at_once(tmp_path):
    CocoExporter(tmp_path / "coco.json").close()
    assert not any(tmp_path.iterdir())
    (tmp_path / "folder").mkdir()
    with pytest.raises(RecordingError, match=f"^cannot export COCO JSON to {tmp_path}/folder: it is a folder; "
                                             f"give a file name like {tmp_path}/folder/coco.json$"):
        CocoExporter(tmp_path / "folder")
    (tmp_path / "coco.jsonl").mkdir()
    with pytest.raises(RecordingError, match="coco.jsonl: it is a folder"):
        CocoExporter(tmp_path / "coco.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco.jsonl", "folder"]  # no file made


def test_a_json_path_taken_by_a_folder_at_close_keeps_the_lines(tmp_path):
    exporter = CocoExporter(tmp_path / "coco.json")
    exporter.write(0, two_objects())
    exporter.write(1, two_objects())
    (tmp_path / "coco.json").mkdir()  # someone made a folder of that name meanwhile
    with pytest.raises(RecordingError, match=f"^cannot write {tmp_path}/coco.json: .*Is a directory") as info:
        exporter.close()
    assert "\n" not in str(info.value) and len((tmp_path / "coco.jsonl").read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco.json", "coco.jsonl"]  # no temporary left
    other = finalize_coco(tmp_path / "coco.jsonl", tmp_path / "other.json")
    assert len(json.loads(other.read_text())["images"]) == 2


KILLED_EXPORTER = r"""
import sys
import numpy as np
from fastsam_video.sinks import CocoExporter
from fastsam_video.types import Segmentation
exporter = CocoExporter(sys.argv[1])
masks = np.zeros((2, 48, 64), dtype=bool)
i = 0
while True:
    masks[0, :, i % 64] = True
    masks[1, 10:20, 10:20] = i % 2 == 0
    exporter.write(i, Segmentation.of(masks, [[0, 0, 64, 48], [10, 10, 20, 20]], [0.9, 0.8], [1, 2]))
    i += 1
    print(i, flush=True)
"""


def test_a_killed_export_keeps_every_flushed_frame_and_finalizes_from_the_shell(tmp_path):
    path = tmp_path / "coco.json"
    process = subprocess.Popen([sys.executable, "-c", KILLED_EXPORTER, str(path)], stdout=subprocess.PIPE,
                               text=True, cwd=REPO)
    written = 0
    try:
        for line in process.stdout:  # writing as fast as it can; killed mid-stream
            written = int(line)
            if written >= 200:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(5)
        process.stdout.close()
    assert written >= 200 and not path.exists()
    on_disk = path.with_suffix(".jsonl").read_text()
    complete = on_disk.count("\n")
    assert complete >= written  # every frame it reported was flushed before it said so
    # the shell helper: one line, the path it wrote, status 0
    result = subprocess.run([sys.executable, "-m", "fastsam_video.sinks", str(path.with_suffix(".jsonl"))],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert (result.returncode, result.stdout) == (0, f"{path}\n"), result.stderr
    coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == list(range(complete))
    assert len(coco.anns) == complete * 2 and coco.annToMask(coco.anns[1])[:, 0].all()
    assert path.with_suffix(".jsonl").exists()  # kept: finalizing is safe to repeat


def test_finalize_skips_a_line_cut_short_and_names_a_bad_one(tmp_path):
    jsonl = tmp_path / "c.jsonl"
    good = json.dumps(frame_record(0, two_objects(), 1))
    jsonl.write_text(good + "\n" + good[:40])  # the writer was killed mid-line
    assert finalize_coco(jsonl) == tmp_path / "c.json"
    data = json.loads((tmp_path / "c.json").read_text())
    assert len(data["images"]) == 1 and len(data["annotations"]) == 2
    jsonl.write_text(good + "\n{oops\n" + good + "\n")
    with pytest.raises(RecordingError, match="c.jsonl line 2 is not a JSON record"):
        finalize_coco(jsonl, tmp_path / "other.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.jsonl"]  # no partial output
    with pytest.raises(RecordingError, match="no such file"):
        finalize_coco(tmp_path / "missing.jsonl")
    result = subprocess.run([sys.executable, "-m", "fastsam_video.sinks", str(tmp_path / "missing.jsonl")],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no such file" in result.stderr


# --- sink thread -------------------------------------------------------------------------

def sink_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sink ")]


def test_non_blocking_sink_drops_and_counts_when_the_writer_is_slow():
    written = []
    sink = SinkThread(lambda i: (time.sleep(0.02), written.append(i)), name="slow", maxsize=4, block=False)
    start = time.monotonic()
    results = [sink.put(i) for i in range(50)]
    assert time.monotonic() - start < 0.2  # the producer never waited
    sink.close()
    assert sink.dropped == results.count(False) >= 40
    assert written == [i for i, ok in enumerate(results) if ok] and sink.written == len(written)
    assert not sink_threads()


def test_blocking_sink_drops_nothing_and_keeps_order():
    written = []
    with SinkThread(lambda i, tag: (time.sleep(0.002), written.append((i, tag))), name="files", maxsize=4) as sink:
        for i in range(60):
            assert sink.put(i, "x")
    assert written == [(i, "x") for i in range(60)] and sink.dropped == 0
    assert not sink_threads()


def test_a_failed_sink_reports_its_error_once_then_drops_quietly():
    def write(i):
        if i == 3:
            raise OSError("disk full")

    sink = SinkThread(write, name="recorder", maxsize=2)
    with pytest.raises(RecordingError, match="recorder failed: OSError: disk full") as info:
        for i in range(100):
            sink.put(i)
            time.sleep(0.005)
    assert isinstance(info.value.__cause__, OSError) and sink.failed and sink.error is info.value.__cause__
    assert [sink.put(i) for i in range(5)] == [False] * 5 and sink.dropped == 5  # no second raise
    sink.close()  # already reported: close does not raise it again
    assert not sink_threads()


def test_sink_close_raises_an_unreported_error_and_refuses_more_writes(tmp_path):
    recorder = VideoRecorder(tmp_path / "rec.mp4")
    sink = SinkThread(recorder.write, name="recorder")
    sink.put(np.zeros((48, 64, 3), np.uint8), 0.0)
    sink.put(np.zeros((48, 64, 3), np.float32), 0.1)
    with pytest.raises(RecordingError, match=r"^cannot record a float32 image of shape \(48, 64, 3\)") as info:
        sink.close()
    assert isinstance(info.value.__cause__, RecordingError)
    assert not sink.put(np.zeros((48, 64, 3), np.uint8), 0.2)
    recorder.close()
    assert len(decoded(tmp_path / "rec.mp4")) == 1


FAILED_SETUP = r"""
import sys
from fastsam_video.sinks import CocoExporter, SinkThread, VideoRecorder
from fastsam_video.types import RecordingError
recorder = VideoRecorder(sys.argv[1] + "/rec.mp4")  # opens fine ...
sink = SinkThread(recorder.write, name="recorder")
try:
    CocoExporter(sys.argv[1])  # ... the next output does not: a folder, as in --export-coco SOME_FOLDER
except RecordingError as err:
    print(err, flush=True)
    sys.exit(2)  # without closing the recorder or its thread, as a set-up that gave up would
"""


def test_a_set_up_that_fails_after_one_sink_opened_exits_at_once_and_leaves_no_file(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", FAILED_SETUP, str(tmp_path)], stdout=subprocess.PIPE,
                               text=True, cwd=REPO)
    try:
        line = process.stdout.readline()  # waits for Python and torch to start, however long
        failed_at = time.monotonic()
        assert process.wait(10) == 2 and time.monotonic() - failed_at < 5  # no sink thread keeps it alive
    finally:
        process.kill()
        process.stdout.close()
    assert line == (f"cannot export COCO JSON to {tmp_path}: it is a folder; give a file name like "
                    f"{tmp_path}/coco.json\n")
    assert not any(tmp_path.iterdir())  # no empty recording left behind


def test_a_full_disk_fails_its_own_sink_only(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux) to fill a disk for real")
    (tmp_path / "full.jsonl").symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    (tmp_path / "full.mp4").symlink_to("/dev/full")
    full_coco, good_coco = CocoExporter(tmp_path / "full.json"), CocoExporter(tmp_path / "good.json")
    full_rec, good_rec = VideoRecorder(tmp_path / "full.mp4"), VideoRecorder(tmp_path / "good.mp4")
    sinks = [SinkThread(full_coco.write, name="coco full"), SinkThread(good_coco.write, name="coco good"),
             SinkThread(full_rec.write, name="recorder full"), SinkThread(good_rec.write, name="recorder good")]
    errors = []
    for i in range(20):
        for sink, args in zip(sinks, [(i, two_objects())] * 2 + [(textured(i), i / 30)] * 2):
            try:
                sink.put(*args)
            except RecordingError as err:  # what the pipeline logs for that camera, then goes on
                errors.append((sink.name, str(err)))
        time.sleep(0.01)
    for sink in sinks:
        try:
            sink.close()
        except RecordingError as err:
            errors.append((sink.name, str(err)))
    assert sorted(name for name, _ in errors) == ["coco full", "recorder full"], errors  # once each
    assert all("No space left on device" in text and "\n" not in text for _, text in errors), errors
    assert [s.failed for s in sinks] == [True, False, True, False] and sinks[1].written == sinks[3].written == 20
    for sink in (full_coco, good_coco, full_rec, good_rec):
        sink.close()  # the failed ones say so in the log, and raise nothing more
    assert len(json.loads((tmp_path / "good.json").read_text())["images"]) == 20
    assert len(decoded(tmp_path / "good.mp4")) == 20
    assert not (tmp_path / "full.json").exists() and not sink_threads()




@pytest.fixture
def small_disk(tmp_path):
    """A 256 KB tmpfs: a disk that really fills up."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                                           capture_output=True).returncode:
        pytest.skip("needs permission to mount a small tmpfs (a disk that fills up)")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)  # lazy: also when a failed test left a file open


def test_a_disk_that_fills_mid_stream_keeps_what_was_written(small_disk, tmp_path):
    recorder, coco = VideoRecorder(small_disk / "rec.mp4"), CocoExporter(small_disk / "coco.json")
    sinks = [SinkThread(recorder.write, name="recorder"), SinkThread(coco.write, name="coco export")]
    rng = np.random.default_rng(0)
    errors = {}
    for i in range(500):  # speckled masks (a few KB a line) and moving frames: full after tens of frames
        masks = rng.random((2, 120, 160)) < 0.03
        segmentation = Segmentation.of(masks, [[0, 0, 160, 120]] * 2, [0.9, 0.8], [1, 2])
        for sink, args in zip(sinks, [(textured(i, 120, 160), i / 30),
                                      (i, segmentation)]):
            try:
                sink.put(*args)
            except RecordingError as err:
                errors[sink.name] = str(err)
        if all(sink.failed for sink in sinks):
            break
        time.sleep(0.01)
    for sink in sinks:
        sink.close()  # reported once already: nothing more
    recorder.close()
    coco.close()  # cannot write its JSON on the full disk either: says so in the log, keeps the lines
    assert set(errors) == {"recorder", "coco export"}, errors
    assert all("No space left on device" in text and "\n" not in text for text in errors.values()), errors
    assert 0 < coco.frames_written < 500 and 0 < recorder.frames_written < 500
    # what reached the disk plays: every packet but the one the disk cut short
    with av.open(str(small_disk / "rec.mp4")) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # a frame out for each packet in
        packets = [p for p in container.demux(stream) if p.size]
        good = 0
        for packet in packets:
            try:
                good += len(packet.decode())
            except av.error.InvalidDataError:
                assert packet is packets[-1], f"packet {packets.index(packet)} of {len(packets)} does not decode"
    assert 0 < good <= recorder.frames_written and good >= len(packets) - 1, (good, len(packets))
    final = finalize_coco(coco.jsonl, tmp_path / "coco.json")  # elsewhere, with room
    assert len(json.loads(final.read_text())["images"]) == coco.frames_written
