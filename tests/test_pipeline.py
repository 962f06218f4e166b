"""The streaming pipeline end to end: frame counts, recordings, exports, drops, latency, threads."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import av
import cv2
import numpy as np
import pytest

from fastsam_video.events import CameraState, EventKind
from fastsam_video.pipeline import Pipeline
from fastsam_video.sinks import read_davis_png, rle_decode
from fastsam_video.sources import FrameSource, open_source
from fastsam_video.tracker import ObjectPrompt, PromptSet
from fastsam_video.types import FastSAMVideoError, Segmentation

from .conftest import SAMPLES, shared_clip

CLIP = SAMPLES / "clips" / "crossing" / "video.mp4"


class FakeSegmenter:
    """Stands in for the model: after a delay, one square mask in the frame's upper-left quarter.
    Like Segmenter, `infer` is the model's step and `decode` the post-processing step."""

    device = device_type = "cpu"
    precision = "fp32"

    def __init__(self, delay: float = 0.0, fail_at: int | None = None):
        self.delay = delay
        self.fail_at = fail_at
        self.calls = 0

    def infer(self, images: list[np.ndarray]) -> list[tuple[int, int]]:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("model exploded")
        time.sleep(self.delay)
        return [tuple(image.shape[:2]) for image in images]

    def decode(self, shapes: list[tuple[int, int]]) -> list[Segmentation]:
        return [self.square(h, w) for h, w in shapes]

    @staticmethod
    def square(h: int, w: int) -> Segmentation:
        masks = np.zeros((1, h, w), dtype=bool)
        masks[0, h // 4:h // 2, w // 4:w // 2] = True
        return Segmentation.of(masks, [[w // 4, h // 4, w // 2, h // 2]], [1.0])


def frames_in(path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
    return len(times), times[-1] - times[0]


def opencv_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


def threads_besides(before: set[threading.Thread]) -> list[str]:
    return [t.name for t in threading.enumerate() if t not in before and t.is_alive()]


def test_file_source_loses_no_frame_and_writes_every_output(tmp_path, segmenter):
    before = set(threading.enumerate())
    source = open_source(str(CLIP))
    total = source.frame_count
    prompts = PromptSet((ObjectPrompt(1, points=((47, 70),), labels=(1,)),))
    with Pipeline(source, segmenter, prompts, record=tmp_path / "out.mp4", export_masks=tmp_path / "masks",
                  export_coco=tmp_path / "coco.json") as pipeline:
        assert pipeline.wait(120)
    assert threads_besides(before) == []
    frames, duration = frames_in(tmp_path / "out.mp4")
    _, input_duration = frames_in(CLIP)
    assert frames == total == 60 and opencv_frames(tmp_path / "out.mp4") == total
    assert abs(duration - input_duration) <= 1 / 30 + 1e-6
    pngs = sorted((tmp_path / "masks").glob("*.png"))
    assert len(pngs) == total
    assert set(np.unique(read_davis_png(pngs[0])).tolist()) == {0, 1}  # the prompted object, id 1
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert len(coco["images"]) == total
    first = [a for a in coco["annotations"] if a["image_id"] == 0]
    assert [a["object_id"] for a in first] == [1]
    assert rle_decode(first[0]["segmentation"]).sum() == first[0]["area"]


def test_live_source_with_slow_inference_keeps_latency_bounded_and_counts_drops():
    source = open_source("lavfi:testsrc2=size=320x240:rate=30,realtime")
    with Pipeline(source, FakeSegmenter(delay=0.15), max_frames=12) as pipeline:
        assert pipeline.wait(30)
        stats = pipeline.snapshot()
    assert stats.frames == 12
    assert stats.dropped > 12  # ~4 of every 5 camera frames are replaced unread
    assert stats.latency_p99 < 0.4  # one inference (0.15 s) plus at most a frame's wait, not a growing queue


def test_file_source_with_slow_inference_drops_nothing():
    source = open_source(str(CLIP))
    with Pipeline(source, FakeSegmenter(delay=0.02)) as pipeline:
        assert pipeline.wait(30)
        stats = pipeline.snapshot()
    assert stats.frames == 60 and stats.dropped == 0


def test_prompts_replaced_mid_stream_apply_from_the_next_frame():
    seen = []
    source = open_source(str(CLIP))
    pipeline = Pipeline(source, FakeSegmenter(delay=0.01), PromptSet(), on_result=seen.append)
    with pipeline:
        while len(seen) < 5:
            pipeline.wait(0.05)
        pipeline.set_prompts(PromptSet((ObjectPrompt(1, points=((110, 90),), labels=(1,)),)))
        assert pipeline.wait(30)
    assert len(seen[0].segmentation) == 0
    assert seen[-1].segmentation.object_ids.tolist() == [1]
    assert any((e.kind, e.object_id, e.camera) == (EventKind.OBJECT_ADDED, 1, 0) for r in seen for e in r.events)


def test_worker_error_is_reraised_from_the_original():
    source = open_source(str(CLIP))
    pipeline = Pipeline(source, FakeSegmenter(fail_at=3)).start()
    with pytest.raises(FastSAMVideoError, match="model exploded") as err:
        pipeline.wait(30)
    assert isinstance(err.value.__cause__, RuntimeError)
    pipeline.close()


def test_an_error_after_the_model_is_reraised_and_no_thread_outlives_close():
    before = set(threading.enumerate())

    def broken_display(result):
        if result.frame.index == 4:
            raise ValueError("display gone")

    pipeline = Pipeline(open_source(str(CLIP)), FakeSegmenter(), on_result=broken_display).start()
    with pytest.raises(FastSAMVideoError, match="ValueError: display gone") as err:
        pipeline.wait(30)
    assert isinstance(err.value.__cause__, ValueError)
    pipeline.close()
    assert threads_besides(before) == []


class TimedSegmenter(FakeSegmenter):
    """Records when each model step runs."""

    def __init__(self, delay: float):
        super().__init__(delay=delay)
        self.spans: list[tuple[float, float]] = []

    def infer(self, images):
        start = time.monotonic()
        out = super().infer(images)
        self.spans.append((start, time.monotonic()))
        return out


def test_the_model_works_on_the_next_frame_while_the_last_one_is_finished():
    segmenter = TimedSegmenter(delay=0.03)
    finishing: list[tuple[float, float]] = []

    def slow_display(result):  # stands in for tracking and rendering taking as long as the model
        start = time.monotonic()
        time.sleep(0.03)
        finishing.append((start, time.monotonic()))

    with Pipeline(open_source(str(CLIP)), segmenter, max_frames=12, on_result=slow_display) as pipeline:
        assert pipeline.wait(30)
    assert len(finishing) == 12 and pipeline.channels[0].submitted == 12  # max_frames: not one more read
    # serial processing would never run the two at once; overlapped, most model steps do
    overlapping = [s for s in segmenter.spans if any(s[0] < f[1] and f[0] < s[1] for f in finishing)]
    assert len(overlapping) >= 6


def test_recording_started_and_stopped_at_run_time(tmp_path):
    source = open_source(str(CLIP))
    seen = []
    pipeline = Pipeline(source, FakeSegmenter(delay=0.01), on_result=seen.append)
    with pipeline:
        pipeline.set_recording(tmp_path / "part.mp4")
        while len(seen) < 20:
            pipeline.wait(0.05)
        pipeline.set_recording(None)
        assert pipeline.wait(30)
    frames, _ = frames_in(tmp_path / "part.mp4")
    assert 10 <= frames < 60


@pytest.mark.slow
@pytest.mark.parametrize("name", ["blackswan.mp4", "aquarium.mp4", "bedroom.mp4"])
def test_real_clips_are_recorded_frame_for_frame(tmp_path, segmenter, name):
    path = shared_clip(name)
    source = open_source(str(path))
    total = source.frame_count
    with Pipeline(source, segmenter, record=tmp_path / "out.mp4", export_masks=tmp_path / "masks",
                  export_coco=tmp_path / "coco.json") as pipeline:
        assert pipeline.wait(600)
    frames, duration = frames_in(tmp_path / "out.mp4")
    in_frames, in_duration = frames_in(path)
    assert frames == in_frames == total
    assert opencv_frames(tmp_path / "out.mp4") == total
    assert abs(duration - in_duration) <= 1.01 / (source.fps or 30)
    assert len(list((tmp_path / "masks").glob("*.png"))) == total
    assert len(json.loads((tmp_path / "coco.json").read_text())["images"]) == total


class FailingSource:
    """A live camera that delivers a few frames, then fails."""

    live, fps, frame_count, skipped = True, 30.0, None, 0

    def __init__(self, frames: int, source_id: int):
        self.frames, self.source_id, self.count = frames, source_id, 0
        self.name = "flaky camera"

    def read(self):
        from fastsam_video.types import Frame, SourceError

        if self.count >= self.frames:
            raise SourceError("flaky camera: connection reset")
        self.count += 1
        time.sleep(1 / 30)
        return Frame(np.zeros((120, 160, 3), np.uint8), self.count - 1, time.monotonic(), source_id=self.source_id)

    def interrupt(self):
        pass

    def close(self):
        pass


class BatchCountingSegmenter(FakeSegmenter):
    def __init__(self):
        super().__init__()
        self.batch_sizes = []

    def infer(self, images):
        self.batch_sizes.append(len(images))
        return super().infer(images)


def test_several_cameras_share_one_model_call_and_keep_their_own_outputs(tmp_path):
    sources = [open_source(str(CLIP), source_id=0), open_source(str(SAMPLES / "clips" / "drift" / "video.mp4"),
                                                                 source_id=1)]
    segmenter = BatchCountingSegmenter()
    seen = []
    with Pipeline(sources, segmenter, record=tmp_path / "out.mp4", on_result=seen.append) as pipeline:
        pipeline.set_prompts(PromptSet((ObjectPrompt(1, points=((110, 90),), labels=(1,)),)), camera=1)
        assert pipeline.wait(60)
        snaps = [pipeline.snapshot(i) for i in range(2)]
    assert [s.frames for s in snaps] == [60, 60]
    assert max(segmenter.batch_sizes) == 2  # both cameras' frames in one forward pass
    assert frames_in(tmp_path / "out-cam1.mp4")[0] == 60 and frames_in(tmp_path / "out-cam2.mp4")[0] == 60
    assert {r.frame.source_id for r in seen} == {0, 1}
    assert not any(r.objects for r in seen if r.frame.source_id == 0)  # prompts are per camera
    assert any(r.objects and r.objects[0].object_id == 1 for r in seen if r.frame.source_id == 1)


def test_one_camera_failing_does_not_stall_the_others():
    sources = [FailingSource(5, source_id=0), open_source("lavfi:testsrc2=size=160x120:rate=30,realtime",
                                                          source_id=1)]
    with Pipeline(sources, FakeSegmenter(), max_frames=40) as pipeline:
        assert pipeline.wait(30)  # no error: one camera is still running
        assert pipeline.snapshot(1).frames == 40
        assert pipeline.snapshot(0).frames == 5
        assert "connection reset" in str(pipeline.channels[0].error)


# ---------------------------------------------------------------- faults stay in their camera; cameras at run time

class ResizingSource(FrameSource):
    """A file-like camera whose frame size changes mid-stream (a reconfigured camera, an
    adaptive stream): `first` frames at 160x120, then `then` frames at 320x240."""

    name, fps = "resizing camera", 30.0

    def __init__(self, first: int = 20, then: int = 20, source_id: int = 0):
        super().__init__(source_id)
        self.sizes = [(120, 160)] * first + [(240, 320)] * then
        self.frame_count = len(self.sizes)

    def _read_image(self):
        if self._next_index >= len(self.sizes):
            return None
        h, w = self.sizes[self._next_index]
        image = np.full((h, w, 3), 90, np.uint8)
        image[h // 4:h // 2, w // 4:w // 2] = (40, 200, 240)  # where FakeSegmenter puts its mask
        return image, self._next_index / self.fps


def test_a_frame_size_change_stays_in_its_camera(tmp_path):
    events = []
    seen = []
    sources = [ResizingSource(), open_source(str(CLIP))]
    prompts = PromptSet((ObjectPrompt(1, points=((60, 45),), labels=(1,)),))  # inside the 160x120 square
    pipeline = Pipeline(sources, FakeSegmenter(), prompts, record=tmp_path / "out.mp4", segment_seconds=600,
                        export_masks=tmp_path / "masks", on_result=seen.append)
    pipeline.subscribe(events.append)
    with pipeline:
        assert pipeline.wait(60)  # no error: the camera went on
    statuses = [pipeline.status(camera) for camera in (0, 1)]  # after close: the recordings are finished
    resized = [e for e in events if e.kind == EventKind.CAMERA_RESIZED]
    assert [(e.camera, e.detail) for e in resized] == [(0, "160x120 -> 320x240")]
    after = [r for r in seen if r.camera == 0 and r.frame.index >= 20]
    assert len(after) == 20 and after[0].segmentation.masks.shape[1:] == (240, 320)
    assert all(r.segmentation.object_ids.tolist() == [1] for r in after[1:])  # object 1 re-selected and kept
    assert [s.stats.frames for s in statuses] == [40, 60] and not statuses[0].sink_errors
    assert statuses[0].frame_size == (320, 240)
    (x, y), = pipeline.prompts_of(0).objects[0].points  # what front ends edit: moved with the new size
    assert (round(x), round(y)) == (120, 90) and pipeline.prompts_of(1) == PromptSet(prompts.objects)
    segments = statuses[0].recorded  # the recording rolled to a new file at the new size
    assert len(segments) == 2 and [frames_in(p)[0] for p in segments] == [20, 20]
    assert [frames_in(p)[0] for p in statuses[1].recorded] == [60]  # the other camera: undisturbed
    masks = sorted((tmp_path / "masks-cam1").glob("*.png"))
    assert len(masks) == 40 and read_davis_png(masks[-1]).shape == (240, 320)


def test_an_output_failing_mid_run_is_reported_for_its_camera_and_the_others_go_on(tmp_path):
    events = []

    def break_camera_1_export(result):
        folder = tmp_path / "masks-cam1"
        while result.camera == 0 and result.frame.index == 10:  # its folder is removed: no more writes there
            shutil.rmtree(folder, ignore_errors=True)
            try:
                with open(folder, "x") as file:  # the writer may have made the folder again meanwhile
                    file.write("not a folder")
                break
            except (FileExistsError, IsADirectoryError):
                continue

    sources = [open_source(str(CLIP), source_id=0), open_source(str(SAMPLES / "clips" / "drift" / "video.mp4"))]
    pipeline = Pipeline(sources, FakeSegmenter(delay=0.01), export_masks=tmp_path / "masks",
                        on_result=break_camera_1_export)
    pipeline.subscribe(events.append)
    with pipeline:
        assert pipeline.wait(60)
        statuses = [pipeline.status(camera) for camera in (0, 1)]
    failed = [e for e in events if e.kind == EventKind.SINK_FAILED]
    # the writer meets either the missing folder or the file in its place, depending on the race
    assert [e.camera for e in failed] == [0] and "masks-cam1" in failed[0].detail
    assert "cannot create folder" in failed[0].detail or "cannot write" in failed[0].detail
    assert len(statuses[0].sink_errors) == 1 and statuses[0].sink_errors[0].startswith("davis export: ")
    assert [s.stats.frames for s in statuses] == [60, 60]  # camera 1 went on without its export
    assert statuses[0].state == CameraState.ENDED and statuses[0].error is None
    assert len(list((tmp_path / "masks-cam2").glob("*.png"))) == 60


def test_a_recording_that_fails_is_no_longer_reported_as_recording(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux): every write fails with ENOSPC, as on a full disk")
    target = tmp_path / "full.mp4"
    target.symlink_to("/dev/full")
    failed = threading.Event()
    pipeline = Pipeline(open_source(str(CLIP)), FakeSegmenter(delay=0.01))
    pipeline.subscribe(lambda e: e.kind == EventKind.SINK_FAILED and failed.set())
    pipeline.set_recording(target)
    assert pipeline.recording_of(0) == target  # asked for: reported at once, before the next frame
    with pipeline:
        assert failed.wait(30)
        assert pipeline.recording_of(0) is None  # the web API and the window read this
        assert pipeline.wait(60)


def test_cameras_are_added_and_removed_while_running_with_stable_ids(tmp_path):
    before = set(threading.enumerate())
    events = []
    seen = []
    live = open_source("lavfi:testsrc2=size=160x120:rate=30,realtime")
    pipeline = Pipeline(live, FakeSegmenter(), record=tmp_path / "rec.mp4", stay_open=True, on_result=seen.append)
    pipeline.subscribe(events.append)
    with pipeline:
        while pipeline.status(0).stats.frames < 5:
            assert not pipeline.wait(0.05)
        assert pipeline.status(0).state == CameraState.RUNNING
        added = pipeline.add_camera(open_source(str(CLIP)))
        assert added == 1 and pipeline.camera_ids() == [0, 1]
        while pipeline.status(1).state != CameraState.ENDED:
            assert not pipeline.wait(0.05)
        pipeline.remove_camera(0)
        assert pipeline.camera_ids() == [1]
        with pytest.raises(FastSAMVideoError, match="no camera 0"):
            pipeline.status(0)
        assert not pipeline.wait(0.3)  # stay_open: runs on with every camera ended, until close()
        assert pipeline.add_camera(open_source(str(CLIP))) == 2  # ids are never reused
        assert pipeline.status(2).recording == tmp_path / "rec-cam3.mp4"
    assert threads_besides(before) == []
    assert frames_in(tmp_path / "rec.mp4")[0] >= 5  # finished when its camera was removed
    assert frames_in(tmp_path / "rec-cam2.mp4")[0] == 60
    assert {r.camera for r in seen} >= {0, 1} and {r.frame.source_id for r in seen} == {r.camera for r in seen}
    kinds = [(e.kind, e.camera) for e in events]
    for expected in [(EventKind.CAMERA_ADDED, 1), (EventKind.CAMERA_ENDED, 1), (EventKind.RECORDING_STOPPED, 0),
                     (EventKind.CAMERA_REMOVED, 0), (EventKind.CAMERA_ADDED, 2)]:
        assert expected in kinds
    assert kinds.index((EventKind.RECORDING_STOPPED, 0)) < kinds.index((EventKind.CAMERA_REMOVED, 0))


def test_connection_changes_are_camera_events():
    from .rtsp_server import free_port

    events = []
    down = open_source(f"rtsp://127.0.0.1:{free_port()}/x", open_timeout=1, read_timeout=1)  # nobody listens
    up = open_source("lavfi:testsrc2=size=160x120:rate=30,realtime", reconnect=True)
    pipeline = Pipeline([down, up], FakeSegmenter())
    pipeline.subscribe(events.append)
    with pipeline:
        deadline = time.monotonic() + 20
        wanted = {(EventKind.CAMERA_RECONNECTING, 0), (EventKind.CAMERA_CONNECTED, 1)}
        while time.monotonic() < deadline and not (wanted <= {(e.kind, e.camera) for e in events}
                                                   and pipeline.status(1).stats.frames > 0):
            pipeline.wait(0.1)
        assert pipeline.status(0).state == CameraState.RECONNECTING
        assert pipeline.status(1).state == CameraState.RUNNING
    kinds = {(e.kind, e.camera) for e in events}
    assert (EventKind.CAMERA_RECONNECTING, 0) in kinds and (EventKind.CAMERA_CONNECTED, 1) in kinds
    assert (EventKind.CAMERA_CONNECTED, 0) not in kinds


def test_a_failure_while_building_closes_what_was_opened(tmp_path):
    from fastsam_video.factory import build_pipeline
    from fastsam_video.options import ModelOptions, OutputOptions, StreamOptions
    from fastsam_video.types import RecordingError

    before = set(threading.enumerate())
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    started = time.monotonic()
    with pytest.raises(RecordingError, match="notes.txt"):
        build_pipeline([str(CLIP), "lavfi:testsrc2=size=160x120:rate=30,realtime"], ModelOptions(), StreamOptions(),
                       OutputOptions(record=str(tmp_path / "r.mp4"), export_coco=tmp_path / "notes.txt" / "c.json"),
                       segmenter=FakeSegmenter())  # the second camera's recorder opens, then its export fails
    assert time.monotonic() - started < 5
    assert threads_besides(before) == []  # the recorders' threads were closed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no 0-byte recording left
