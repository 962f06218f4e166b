"""Several cameras in one window: the `gui SRC1 SRC2` command line, a grid of tiles fed by
one pipeline, prompts that go to the clicked tile's camera only, a failed camera shown in
its tile while the others play, and no thread left behind."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt

from fastsam_video.pipeline import Result
from fastsam_video.sinks import read_davis_png
from fastsam_video.types import Frame, Segmentation
from fastsam_video.ui.geometry import frame_to_widget

from .conftest import CLIP, ROOT

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]

WAIT = 60_000
DRIFT = ROOT / "samples" / "clips" / "drift" / "video.mp4"


def centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


def by_camera(results, camera: int) -> list:
    return [r for r in results if r.frame.source_id == camera]


def test_gui_takes_several_sources(monkeypatch):
    import fastsam_video.ui as ui

    args = ui.gui_args(["a.mp4", "b.mp4", "--fast"])
    assert (args.source, args.sources, args.fast) == ("a.mp4", ["a.mp4", "b.mp4"], True)
    assert ui.gui_args(["a.mp4"]).sources == ["a.mp4"] and ui.gui_args([]).sources == []
    opened = []
    monkeypatch.setattr(ui, "run_window", lambda args, spec: opened.append(spec) or 0)
    assert ui.cmd_gui(args) == 0 and ui.cmd_gui(ui.gui_args(["a.mp4"])) == 0 and ui.cmd_gui(ui.gui_args([])) == 0
    assert opened == [["a.mp4", "b.mp4"], "a.mp4", None]  # one source: exactly as before


def fake_result(camera: int, index: int) -> Result:
    image = np.full((240, 320, 3), 40 * camera, np.uint8)
    frame = Frame(image=image, index=index, t_capture=time.monotonic(), source_id=camera)
    return Result(frame, Segmentation.empty(240, 320), image, (), (), (), time.monotonic(), camera=camera)


def test_results_go_to_their_tile_newest_only(qtbot, make_window):
    window = make_window()
    window._set_cameras(["a.mp4", "rtsp://admin:hunter2@cam/x"], keep=False)  # what opening two sources does
    assert len(window.tiles) == 2 and window.tiles[0].title.text() == "1 · a.mp4"
    assert "hunter2" not in window.tiles[1].title.text() and window.tiles[1].title.text().startswith("2 · ")
    shown = []
    window.resultShown.connect(shown.append)
    generation = window._generation

    def burst():  # like the inference thread: both cameras, faster than the UI shows them
        for i in range(6):
            for camera in (0, 1):
                window._bridge.result.emit(generation, fake_result(camera, i))

    thread = threading.Thread(target=burst)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(shown) >= 2, timeout=5000)
    qtbot.wait(50)
    assert sorted((r.frame.source_id, r.frame.index) for r in shown) == [(0, 5), (1, 5)]
    assert window.tiles[0].view.frame[0, 0, 0] == 0 and window.tiles[1].view.frame[0, 0, 0] == 40


def test_two_cameras_play_in_tiles_and_a_click_prompts_that_camera(qtbot, make_window, ui_segmenter, tmp_path):
    before = set(threading.enumerate())
    window = make_window(ui_segmenter, size=(1100, 560))  # real time, looping: the clips are 2 s long
    window.loop_action.setChecked(True)
    shown = []
    window.resultShown.connect(shown.append)
    window.open_sources([str(CLIP), str(DRIFT)])
    qtbot.waitUntil(lambda: bool(by_camera(shown, 0) and by_camera(shown, 1)), timeout=WAIT)
    assert window.camera_count == 2 and len(window.tiles) == 2
    assert [t.title.text() for t in window.tiles] == ["1 · " + str(CLIP), "2 · " + str(DRIFT)]
    assert window.tiles[0].view.frame is not None and window.tiles[1].view.frame is not None
    assert window.tiles[0].selected and not window.tiles[1].selected
    assert len(window.pipeline.channels) == 2

    tile = window.tiles[1].view
    point = centre(read_davis_png(DRIFT.parent / "Annotations" / f"{by_camera(shown, 1)[-1].frame.index:05d}.png") == 1)
    pos = QPointF(*frame_to_widget(point, tile.size(), tile.frame_size()))
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=pos.toPoint())
    assert window.camera == 1 and window.tiles[1].selected and not window.tiles[0].selected
    (prompt,) = window.camera_prompts(1).objects
    assert np.allclose(prompt.points[0], point, atol=2)  # mapped with tile 2's frame size
    assert window.camera_prompts(0).objects == ()
    qtbot.waitUntil(lambda: window.pipeline is not None, timeout=WAIT)  # between two loops
    pipeline = window.pipeline
    assert pipeline.channels[1].prompts.objects == (prompt,) and pipeline.channels[0].prompts.objects == ()
    assert [row[0] for row in window.object_list.rows()] == [prompt.object_id]
    qtbot.waitUntil(lambda: any(r.objects for r in by_camera(shown, 1)), timeout=WAIT)
    assert not any(r.objects for r in by_camera(shown, 0))  # camera 1 knows nothing of it

    qtbot.mouseClick(window.tiles[0].view, Qt.MouseButton.LeftButton, pos=pos.toPoint(),
                     modifier=Qt.KeyboardModifier.NoModifier)  # selects tile 1 (and makes an object there)
    assert window.camera == 0 and window.tiles[0].selected
    assert [row[0] for row in window.object_list.rows()] == [o.object_id for o in window.camera_prompts(0).objects]
    assert len(window.camera_prompts(1).objects) == 1
    qtbot.waitUntil(lambda: "fps" in window.tiles[1].stats.text(), timeout=5000)

    window.select_camera(1)  # recording and snapshots act on the selected camera
    assert [row[0] for row in window.object_list.rows()] == [prompt.object_id]
    qtbot.waitUntil(lambda: window.pipeline is not None, timeout=WAIT)
    pipeline = window.pipeline
    target = window.start_recording()
    assert target is not None and target.name.endswith("-cam2.mp4") and "camera 2" in window.record_label.text()
    assert pipeline.channels[1].recording_request == (target,) or pipeline.channels[1].record_path == target
    assert pipeline.channels[0].recording_request is None and pipeline.channels[0].record_path is None
    snapshot = window.save_snapshot(tmp_path / "cam2.png")
    assert snapshot is not None and snapshot.stat().st_size > 0
    window.close()
    assert set(threading.enumerate()) - before == set()


def test_a_failed_camera_shows_its_error_and_the_other_plays(qtbot, make_window, ui_segmenter, tmp_path):
    window = make_window(ui_segmenter, "--fast")
    shown = []
    window.resultShown.connect(shown.append)
    window.open_sources([str(CLIP), str(tmp_path / "missing.mp4")])
    qtbot.waitUntil(lambda: "no such file" in (window.tiles[1].view.overlay or "") if len(window.tiles) > 1
                    else False, timeout=WAIT)
    assert "missing.mp4" in window.tiles[1].title.text()
    assert window.tiles[1].stats.text() == "failed"
    count = len(by_camera(shown, 0))
    qtbot.waitUntil(lambda: len(by_camera(shown, 0)) >= count + 3, timeout=WAIT)  # camera 1 goes on
    assert not by_camera(shown, 1) and window.tiles[0].view.overlay is None
    window.select_camera(1)
    assert "camera 2: failed" in window.stat_labels["source"].text()
