"""The window with `--state`, in process: the objects (ids, prompts), everything mode, a zone and
recording made in one window are written to the state file and come back in the next window on
the same command line; a closed source is remembered as closed."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from fastsam_video.state import SavedState

pytestmark = [pytest.mark.qt, pytest.mark.timeout(150)]

LIVE = "lavfi:testsrc2=size=320x240:rate=15,realtime"  # endless, like a camera
WAIT = 60_000


def saved_when(path, check, timeout=10.0):
    """The state file once `check(state)` holds (written off the UI thread, debounced)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # read, not StateFile.load: that removes temporary files, the writer's own while it writes
        state = SavedState.model_validate_json(path.read_text()) if path.exists() else None
        if state is not None and check(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"the state file never matched: {path.read_text() if path.exists() else 'no file'}")


def without_pts(prompts):
    return tuple(replace(o, pts=None) for o in prompts.objects)


def test_objects_zones_everything_and_recording_come_back_in_the_next_window(qtbot, make_window, ui_segmenter,
                                                                             tmp_path):
    path = tmp_path / "window.state.json"
    first = make_window(ui_segmenter, "--state", str(path))
    assert not first.restore_state()  # no file yet: the command line's SOURCE is opened instead
    first.open_source(LIVE)
    qtbot.waitUntil(lambda: first.latest_result is not None, timeout=WAIT)
    box = first.add_box(20, 20, 120, 100)
    point = first.add_point(200, 150)
    first.remove_object(box)
    other = first.add_box(150, 30, 300, 200)
    assert (point, other) == (2, 3)
    first.set_everything(True)
    first.zone_editor.start("line", "door")
    first.zone_editor.drag(0, 120, 320, 120)
    recording = first.start_recording()
    made = without_pts(first.prompts)
    state = saved_when(path, lambda s: s.cameras and s.cameras[0].recording and s.cameras[0].zones)
    (camera,) = state.cameras
    assert camera.source == LIVE and camera.everything and [o.id for o in camera.objects] == [2, 3]
    first.close()
    assert recording.exists()

    second = make_window(ui_segmenter, "--state", str(path))
    with qtbot.waitSignal(second.sourceOpened, timeout=WAIT):
        assert second.restore_state()
    assert without_pts(second.prompts) == made  # the same ids, points and boxes
    assert second.prompts.everything and second.everything_action.isChecked()
    assert second.recording_path is not None and second.recording_path != recording  # on again, a new file
    qtbot.waitUntil(lambda: second.pipeline.zones_of(0).get("door") is not None, timeout=5000)
    assert second.add_point(60, 60) == 4  # new ids go on from the restored ones
    saved_when(path, lambda s: [o.id for o in s.cameras[0].objects] == [2, 3, 4])
    second.close_source()
    saved_when(path, lambda s: s.cameras == [])
    second.close()

    third = make_window(ui_segmenter, "--state", str(path))
    assert third.restore_state()  # a state with no camera: the window opens none (as serve does)
    assert third.pipeline is None and third._opening is None


def test_saved_sources_that_do_not_open_leave_the_state_file_alone(qtbot, make_window, tmp_path):
    """A saved file camera whose disk is not there today: the error shows, and edits made before
    any source opens do not replace the saved cameras (the next start tries them again)."""
    from fastsam_video.state import StateFile
    from fastsam_video.ui.window_persistence import window_snapshot
    from fastsam_video.tracker import ObjectPrompt, PromptSet

    path = tmp_path / "window.state.json"
    missing = str(tmp_path / "gone" / "clip.mp4")
    StateFile(path).save(window_snapshot([missing], [PromptSet((ObjectPrompt(5, box=(1, 2, 30, 40)),))], [True],
                                         [None]))
    before = path.read_text()
    window = make_window(None, "--state", str(path))
    with qtbot.waitSignal(window.sourceFailed, timeout=20_000) as failed:
        assert window.restore_state()
    assert "clip.mp4" in failed.args[0] and window.pipeline is None
    window.add_box(10, 10, 50, 50)
    window.set_everything(True)
    qtbot.wait(800)  # past the writer's delay
    assert path.read_text() == before


def test_several_cameras_come_back_each_with_its_own_objects_and_recording(qtbot, make_window, ui_segmenter,
                                                                           tmp_path):
    path = tmp_path / "window.state.json"
    other = LIVE.replace("testsrc2", "smptebars")
    first = make_window(ui_segmenter, "--state", str(path))
    first.open_sources([LIVE, other])
    qtbot.waitUntil(lambda: first.pipeline is not None and first.camera_latest(1) is not None, timeout=WAIT)
    first.select_camera(1)
    made = first.add_box(40, 40, 200, 180)
    first.start_recording()
    saved_when(path, lambda s: len(s.cameras) == 2 and s.cameras[1].recording and s.cameras[1].objects)
    first.close()

    second = make_window(ui_segmenter, "--state", str(path))
    with qtbot.waitSignal(second.sourceOpened, timeout=WAIT):
        assert second.restore_state()
    assert second.camera_count == 2 and second._specs == [LIVE, other]
    assert second.camera_prompts(0).objects == () and second.camera_prompts(0).everything
    assert [o.object_id for o in second.camera_prompts(1).objects] == [made]
    assert not second.camera_prompts(1).everything
    assert second.recording_path is not None and second.recording_path.name.endswith("-cam2.mp4")
    qtbot.waitUntil(lambda: second.pipeline.status(1).recording is not None, timeout=10_000)  # applied per frame
    assert second.pipeline.status(0).recording is None
