"""The window's state file without Qt: what a snapshot saves and reads back (ids, prompts,
everything mode, recording, zones), states `serve` wrote, the writer's debounced writes off the
calling thread, a failing disk, and `gui --state` with a broken file (one line, status 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from fastsam_video.analytics.geometry import Line, Zone, ZoneSet
from fastsam_video.config import PromptConfig
from fastsam_video.state import SavedCamera, SavedState, StateFile
from fastsam_video.tracker import ObjectPrompt, PromptSet
from fastsam_video.ui import window_options
from fastsam_video.ui.window_persistence import StateWriter, WindowStart, window_snapshot

PROMPTS = PromptSet((ObjectPrompt(1, points=((10.0, 20.0), (30.0, 5.0)), labels=(1, 0)),
                     ObjectPrompt(4, box=(1.0, 2.0, 50.0, 60.0)), ObjectPrompt(7, text="a dog")), everything=True)
ZONES = ZoneSet((Zone("yard", ((0.1, 0.1), (0.9, 0.1), (0.5, 0.8))), Line("door", (0.0, 0.5), (1.0, 0.5))))


def test_a_snapshot_reads_back_with_its_ids_prompts_zones_and_recording(tmp_path):
    state = StateFile(tmp_path / "window.state.json")
    state.save(window_snapshot(["clip.mp4", "rtsp://u:p@cam/1"], [PROMPTS, PromptSet(everything=True)],
                               [False, True], [ZONES, None]))
    start = WindowStart.from_saved(state.load())
    assert start.specs == ["clip.mp4", "rtsp://u:p@cam/1"]
    first, second = start.cameras
    assert first.prompts == PROMPTS  # ids 1, 4, 7 (not renumbered), points with their labels, box, text
    assert first.zones == ZONES and not first.recording
    assert second.prompts == PromptSet(everything=True) and second.zones is None and second.recording
    assert start.everything_explicit  # everything on beside objects: the user's choice, kept


def test_everything_following_the_rule_is_not_a_choice():
    start = WindowStart.from_saved(window_snapshot(["a.mp4"], [PromptSet(PROMPTS.objects, everything=False)],
                                                   [False], [None]))
    assert not start.everything_explicit
    assert WindowStart.from_saved(SavedState()).cameras == ()  # no camera (the source was closed): none opens


def test_a_state_written_by_serve_opens_its_cameras_in_id_order(tmp_path, caplog):
    saved = SavedState(cameras=[
        SavedCamera(id=5, source="b.mp4", objects=[PromptConfig(id=3, box=[0, 0, 9, 9])], recording=True),
        SavedCamera(id=2, source="a.mp4", everything=True),
        SavedCamera(id=3, name="yard"),  # serve --config: its source is in the config file
        SavedCamera(id=6, source="c.mp4", zones=[{"kind": "zone", "name": "x", "polygon": [[0, 0]]}]),  # broken
    ])
    start = WindowStart.from_saved(saved)
    assert start.specs == ["a.mp4", "b.mp4", "c.mp4"]
    assert start.cameras[1].prompts.objects == (ObjectPrompt(3, box=(0.0, 0.0, 9.0, 9.0)),)
    assert start.cameras[1].recording and start.cameras[2].zones is None
    assert "yard" in caplog.text and "zones are not restored" in caplog.text


def test_the_writer_writes_a_burst_once_off_the_calling_thread_and_flushes_on_close(tmp_path):
    state = StateFile(tmp_path / "s.json")
    writer = StateWriter(state, delay=1.0)  # longer than the burst takes, even on a busy machine
    writers = []
    save = state.save
    state.save = lambda saved: (writers.append(threading.current_thread().name), save(saved))
    try:
        for n in range(1, 30):  # 29 edits in a burst
            writer.submit(window_snapshot(["a.mp4"], [PromptSet((ObjectPrompt(n, text="x"),))], [False], [None]))
        deadline = time.monotonic() + 5
        while state.writes == 0:  # counted once the rename reached the disk
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # nothing more to write
        assert state.writes == 1 and writers == ["window state writer"]
        assert WindowStart.from_saved(state.load()).cameras[0].prompts.objects[0].object_id == 29  # the newest
        writer.submit(window_snapshot(["b.mp4"], [PromptSet()], [True], [None]))
    finally:
        writer.close()  # the pending change is written before close returns
    assert WindowStart.from_saved(state.load()).specs == ["b.mp4"]
    assert not any(t.name == "window state writer" for t in threading.enumerate())


def test_a_write_that_fails_is_logged_and_the_next_change_tries_again(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    writer = StateWriter(StateFile(blocker / "s.json"), delay=0.0)
    writer.submit(window_snapshot(["a.mp4"], [PromptSet()], [False], [None]))
    writer.close()
    assert writer.failures == 1 and "cannot write the state file" in caplog.text
    blocker.unlink()
    blocker.mkdir()
    writer = StateWriter(StateFile(blocker / "s.json"), delay=0.0)
    writer.submit(window_snapshot(["a.mp4"], [PromptSet()], [False], [None]))
    writer.close()
    assert writer.failures == 0 and StateFile(blocker / "s.json").load().cameras[0].source == "a.mp4"


def test_window_options_read_the_state_file(tmp_path):
    path = tmp_path / "w.json"
    assert window_options(["--state", str(path)]).start is None  # no file yet
    StateFile(path).save(window_snapshot(["a.mp4"], [PROMPTS], [False], [None]))
    options = window_options(["clip.mp4", "--state", str(path)])
    assert options.state_path == path and options.start.cameras[0].prompts == PROMPTS
    assert window_options(["clip.mp4"]).state_path is None  # without --state: nothing kept


@pytest.mark.parametrize("text", ["{not json", '{"cameras": [{"id": -1}]}'])
def test_gui_with_a_broken_state_file_is_one_line_and_status_2(tmp_path, text):
    path = tmp_path / "w.json"
    path.write_text(text)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "gui", "clip.mp4", "--state", str(path)],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastsam-video: error: the state file") and str(path) in lines[0]
    assert took < 10  # before Qt and the model
    assert path.read_text() == text  # never overwritten


class FakeLive:
    """What `web.persistence` uses of serve's LiveService: cameras with ids, prompts, zones, recording."""

    def __init__(self, output_dir):
        self.output_dir, self.pipeline, self._cameras = output_dir, self, {}
        self.prompts, self.zones, self.recording = {}, {}, {}

    def add_camera(self, spec, prompts=None, *, camera_id=None, name=None, open_source=None, segment_seconds=None):
        from types import SimpleNamespace

        cid = camera_id if camera_id is not None else max(self._cameras, default=-1) + 1
        self._cameras[cid] = SimpleNamespace(id=cid, spec=spec, name=name, zones=[], record_folder=None)
        self.prompts[cid] = prompts
        return cid

    def camera(self, cid):
        return self._cameras[cid]

    def cameras(self):
        return list(self._cameras.values())

    def start_recording(self, cid):
        self.recording[cid] = self.output_dir / f"camera{cid}.mp4"

    def set_zones(self, zones, cid):
        self.zones[cid] = zones

    def zones_of(self, cid):
        return self.zones.get(cid, ZoneSet())

    def prompts_of(self, cid):
        return self.prompts[cid]

    def recording_of(self, cid):
        return self.recording.get(cid)


def test_a_state_the_window_wrote_restores_in_serve_and_serve_writes_it_back_the_same(tmp_path):
    from fastsam_video.options import StreamOptions
    from fastsam_video.web.persistence import snapshot, start_cameras

    saved = window_snapshot(["a.mp4", "rtsp://u:p@cam/1"], [PROMPTS, PromptSet(everything=True)], [False, True],
                            [ZONES, None])
    live = FakeLive(tmp_path)
    assert start_cameras(live, StreamOptions(), saved, None, ["not-this.mp4"], None) == []
    assert [(c.id, c.spec) for c in live.cameras()] == [(0, "a.mp4"), (1, "rtsp://u:p@cam/1")]
    assert live.prompts[0] == PROMPTS and live.zones[0] == ZONES and list(live.recording) == [1]
    again = snapshot(live)
    assert again == saved  # serve's snapshot of what it restored: the same file
    start = WindowStart.from_saved(again)
    assert start.cameras[0].prompts == PROMPTS and start.cameras[1].recording
