"""The window's state and texts without Qt: object rows and their states, notes from typed
events, newest-result-wins per camera, camera selection, the everything rule, prompt edits
and the panels' texts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastsam_video.events import CameraState, Event, EventKind, ObjectState
from fastsam_video.pipeline import CameraStatus, Result, StatsSnapshot
from fastsam_video.sources import ConnectionState
from fastsam_video.tracker import ObjectPrompt, ObjectStatus, PromptSet
from fastsam_video.types import Frame, PromptError, Segmentation
from fastsam_video.ui.prompting import ADD, BACKGROUND, NEW
from fastsam_video.ui.window_state import (WindowState, recording_file, recording_text, source_text, stats_texts,
                                           tile_text)


def result(index: int, camera: int = 0, *, events=(), objects=()) -> Result:
    image = np.zeros((24, 32, 3), np.uint8)
    frame = Frame(image=image, index=index, t_capture=time.monotonic(), source_id=camera)
    return Result(frame, Segmentation.empty(24, 32), image, (), tuple(objects), tuple(events), time.monotonic(),
                  camera=camera)


def status(object_id: int, state: ObjectState, lost: int = 0) -> ObjectStatus:
    return ObjectStatus(object_id, "points", state, lost)


def snapshot(**kw) -> StatsSnapshot:
    values = dict(frames=120, capture_fps=30.04, inference_fps=12.46, display_fps=11.0, dropped=3, sink_dropped=0,
                  latency_p50=0.0812, latency_p95=0.1204, latency_p99=0.2, stage_ms={}, device="cpu",
                  precision="fp32")
    values.update(kw)
    return StatsSnapshot(**values)


def camera_status(state: CameraState, *, camera: int = 0, live: bool = False, connection=None) -> CameraStatus:
    return CameraStatus(camera=camera, name="cam", live=live, state=state, stats=snapshot(connection=connection),
                        frame_size=(320, 240), recording=None, recorded=(), objects=(), error=None, sink_errors=(),
                        frames_expected=None, truncated=None)


def test_the_state_needs_no_qt_and_the_window_no_command_line():
    code = ("import sys; import fastsam_video.ui.window_state, fastsam_video.ui.session; "
            "print(sorted(m for m in sys.modules if m.startswith('PyQt'))); "
            "import fastsam_video.ui.app, fastsam_video.ui.main_window; "
            "print('fastsam_video.ui.main_window' in sys.modules, 'fastsam_video.cli' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True False"]  # no ui -> cli import circle


def test_rows_say_how_each_object_was_picked_and_where_it_stands():
    state = WindowState(PromptSet(everything=True))
    assert state.edit_click(10.4, 20, NEW, None) == (1, "object 1: point at (10, 20)")
    assert state.edit_click(30, 40, BACKGROUND, 1) == (1, "object 1: background point at (30, 40)")
    assert state.edit_box(5, 6, 50, 60)[0] == 2
    object_id, line = state.edit_text("  a   red car ")
    assert object_id == 3 and line == 'object 3: looking for "a   red car" (the first text prompt loads CLIP)'
    assert state.cam.rows(running=False) == [
        (1, "points (1+1)", "(10.4,20) (30,40) bg", "pending"),  # a prompt just made says pending
        (2, "box", "box 5,6,50,60", "pending"),
        (3, 'text "a red car"', 'text "a red car"', "pending")]
    state.cam.notes.clear()
    assert {row[3] for row in state.cam.rows(running=False)} == {"waiting for a source"}
    assert {row[3] for row in state.cam.rows(running=True)} == {"pending"}

    state.receive(result(0, objects=(status(1, ObjectState.TRACKED), status(2, ObjectState.LOST, 7))))
    state.cam.show_pending()
    assert [row[3] for row in state.cam.rows(running=True)] == ["tracked", "lost (7 frames)", "pending"]
    state.receive(result(1, objects=(status(1, ObjectState.OCCLUDED), status(2, ObjectState.PREDICTED, 2))))
    state.cam.show_pending()
    assert [row[3] for row in state.cam.rows(running=True)][:2] == ["occluded", "predicted"]  # still drawn


def test_notes_come_from_typed_events_and_later_events_clear_them():
    state = WindowState(PromptSet(everything=True))
    for text in ("a dog", "a cat"):
        state.edit_text(text)
    state.receive(result(0, events=(Event(EventKind.OBJECT_NOT_FOUND, object_id=1, detail="nothing found"),
                                    Event(EventKind.OBJECT_DROPPED, object_id=2, detail="lost 10 s"))))
    state.cam.show_pending()
    assert [row[3] for row in state.cam.rows(running=True)] == ["not found", "dropped"]
    state.receive(result(1, events=(Event(EventKind.OBJECT_UPDATED, object_id=1, detail="text"),
                                    Event(EventKind.CAMERA_CONNECTED))))  # no object: no note changes
    state.cam.show_pending()
    assert [row[3] for row in state.cam.rows(running=True)] == ["pending", "dropped"]


def test_the_newest_result_wins_and_keeps_the_events_of_those_dropped():
    state = WindowState(PromptSet(everything=True))
    state.edit_text("a dog")
    for i in range(5):
        kind = EventKind.OBJECT_NOT_FOUND if i == 1 else EventKind.OBJECT_LOST
        assert state.receive(result(i, events=(Event(kind, object_id=1, detail="x"),)))
    assert not state.receive(result(9, camera=3))  # an unknown camera: ignored
    shown, events = state.cam.show_pending()
    assert shown.frame.index == 4 and len(events) == 5 and state.cam.latest is shown
    assert state.cam.rows(running=True)[0][3] == "pending"  # the last event (lost) cleared "not found"
    assert state.cam.show_pending() is None
    assert state.status_line(0, events) == "object 1 lost · object 1 lost · object 1 lost"
    assert state.status_line(0, []) is None


def test_cameras_have_their_own_prompts_and_the_selected_one_is_edited():
    state = WindowState(PromptSet((ObjectPrompt(1, points=((1.0, 2.0),), labels=(1,)),)))
    state.set_cameras(2, keep=True)  # prompts made before the first source: copied to every camera
    assert [len(cam.editor.prompts.objects) for cam in state.cams] == [1, 1] and state.camera == 0
    assert state.select(1) and not state.select(1) and not state.select(5) and state.camera == 1
    state.edit_box(0, 0, 10, 10)
    assert [len(cam.editor.prompts.objects) for cam in state.cams] == [1, 2]
    state.receive(result(0, camera=1, events=(Event(EventKind.OBJECT_LOST, camera=1, object_id=2),)))
    _, events = state.cams[1].show_pending()
    assert state.status_line(1, events) == "camera 2: object 2 lost"
    assert state.status_line(0, events) is None  # not the selected camera of several
    latest = state.cams[1].latest
    state.set_cameras(2, keep=True)  # the same sources again: prompts and last frames stay
    assert state.cams[1].latest is latest and len(state.cams[1].editor.prompts.objects) == 2
    state.set_cameras(2, keep=False)  # other sources: no prompt or frame carries over, ids go on growing
    assert all(cam.editor.prompts.objects == () and cam.latest is None for cam in state.cams)
    assert state.edit_text("a cat")[0] == 2
    state.set_cameras(3, keep=False)
    assert len(state.cams) == 3 and state.camera == 0


def test_everything_follows_the_objects_until_the_user_sets_it():
    state = WindowState(PromptSet(everything=True))
    state.edit_text("a dog")
    assert not state.prompts.everything
    assert state.clear() == "all objects cleared" and state.prompts.everything
    state.set_everything(False)  # the user's choice sticks
    state.edit_text("a cat")
    assert state.remove(2) == "object 2 removed" and not state.prompts.everything
    explicit = WindowState(PromptSet(everything=True), everything_explicit=True)  # --everything
    explicit.edit_text("a dog")
    assert explicit.prompts.everything


def test_edits_that_need_a_selected_point_object_raise_one_line():
    state = WindowState(PromptSet(everything=True))
    with pytest.raises(PromptError, match="select an object"):
        state.edit_click(1, 2, BACKGROUND, None)
    object_id, _ = state.edit_box(0, 0, 5, 5)
    with pytest.raises(PromptError, match="picked by its box"):
        state.edit_click(1, 2, ADD, object_id)
    with pytest.raises(PromptError, match="type what to look for"):
        state.edit_text("   ")
    assert state.cam.notes == {object_id: "pending"}


def test_stats_source_tile_and_recording_texts():
    assert set(stats_texts(None).values()) == {"–"}
    texts = stats_texts(snapshot(sink_dropped=2))
    assert texts == {"capture": "30.0 fps", "inference": "12.5 fps  (120 frames)", "display": "11.0 fps",
                     "latency": "p50 81 ms · p95 120 ms", "dropped": "3 (+2 by the recorder)", "device": "cpu · fp32"}
    running = CameraState.RUNNING
    assert source_text(camera_status(running, live=True), "file", 1) == "file, real time"
    assert source_text(camera_status(running, camera=1), "file", 2) == "camera 2: file"
    assert source_text(camera_status(running, live=True), "camera", 1) == "camera"
    assert source_text(camera_status(CameraState.FAILED, camera=1), "file", 2) == "camera 2: failed"
    down = ConnectionState("reconnecting", attempts=2, next_retry_in=3.0, last_error="refused", reconnects=1)
    stream = camera_status(CameraState.RECONNECTING, live=True, connection=down)
    assert source_text(stream, "stream", 1) == "reconnecting (1 reconnects)"
    assert tile_text(camera_status(running)) == "12.5 fps · latency 81 ms · 120 frames"
    assert tile_text(stream).startswith("12.5 fps · latency 81 ms · 120 frames · reconnecting in 3 s")
    assert tile_text(camera_status(CameraState.ENDED)).endswith(" · ended")
    assert tile_text(camera_status(CameraState.FAILED)) == "failed"
    out = Path("/videos/out")
    assert recording_text(None, 0, cameras=1, camera=None, output_dir=out) == "Saves to /videos/out"
    assert recording_text(out / "a.mp4", 75.9, cameras=1, camera=0, output_dir=out) == "● REC 01:15  a.mp4"
    assert recording_text(out / "a.mp4", 5, cameras=2, camera=1, output_dir=out) == "● REC 00:05  camera 2  a.mp4"
    assert recording_text(out / "a.mp4", 5, cameras=2, camera=None, output_dir=out) == "● REC 00:05  all cameras  a.mp4"
    assert recording_file(out, "S", 1, 2) == out / "fastsam-S-cam2.mp4"
    assert recording_file(out, "S", 0, 1) == out / "fastsam-S.mp4"
