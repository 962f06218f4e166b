"""`fastsam-video gui SOURCE --state FILE` as real processes (offscreen), restarted after SIGTERM
and after SIGKILL: the objects (ids, points, boxes), everything mode, a zone and recording on /
off made in the window come back at the next start on the same command line.

The window is driven from inside its process the way tests/ui/test_entry.py does it (a script
that finds the MainWindow and calls its methods once it shows frames, then runs the program's
own `cli.main`); the second start is the installed program itself, unchanged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fastsam_video.state import SavedState

pytestmark = [pytest.mark.qt, pytest.mark.slow, pytest.mark.timeout(240)]

LIVE = "lavfi:testsrc2=size=320x240:rate=15,realtime"  # endless, like a camera

DRIVER = textwrap.dedent("""
    import json, os, sys
    from fastsam_video.ui import fix_qt_environment
    fix_qt_environment()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    app = QApplication([])
    from fastsam_video.cli import main
    from fastsam_video.ui.main_window import MainWindow

    act, polls = sys.argv[1], []

    def report(w):
        print(json.dumps({"objects": [[o.object_id, [list(p) for p in o.points], list(o.labels),
                                       list(o.box) if o.box else None] for o in w.prompts.objects],
                          "everything": w.prompts.everything, "recording": w.recording_path is not None,
                          "zones": [r.name for r in w.pipeline.zones_of(0)]}), flush=True)

    def poll():
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows or windows[0].latest_result is None or windows[0].pipeline is None:
            return
        polls.append(1)
        if len(polls) != 10:  # a second after the first frame: restored zones are applied by then
            return
        w = windows[0]
        if act == "make":
            box = w.add_box(20, 20, 120, 100)
            w.add_point(200, 150)
            w.remove_object(box)
            w.add_box(150, 30, 300, 200)
            w.set_everything(True)
            w.zone_editor.start("line", "door")
            w.zone_editor.drag(0, 120, 320, 120)
            w.start_recording()
        else:
            report(w)
        if act == "change":
            w.remove_object(2)
            w.set_everything(False)
            w.stop_recording()
        print("changed", flush=True)

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    code = main(["gui", *sys.argv[2:]])
    print("exit", code, flush=True)
    sys.stdout.flush()
    os._exit(code)
""")


class Gui:
    """One process of the window; its stdout in a file, read as it grows."""

    def __init__(self, tmp_path, name: str, command: list[str]):
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", YOLO_VERBOSE="False", XDG_CONFIG_HOME=str(tmp_path))
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=err)

    def wait_for(self, check, what: str, timeout: float = 100.0):
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            assert self.process.poll() is None, f"exited {self.process.returncode} before {what}: {self.log()}"
            assert time.monotonic() < deadline, f"no {what} in {timeout:g} s: {self.log()}"
            time.sleep(0.1)

    def line(self, what: str) -> str:
        return self.wait_for(lambda: next((ln for ln in self.out.read_text().splitlines() if ln.startswith(what)),
                                          None), repr(what))

    def log(self) -> str:
        return self.out.read_text()[-500:] + self.err.read_text()[-2000:]

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def saved_when(path, check, gui: Gui) -> SavedState:
    def read():
        try:  # the file as it is now (StateFile.load would remove the writer's temporary file)
            state = SavedState.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        return state if check(state) else None
    return gui.wait_for(read, "matching state file", timeout=10)


def test_a_restart_after_sigterm_and_after_sigkill_restores_what_the_window_changed(tmp_path, ui_segmenter):
    state = tmp_path / "window.state.json"
    argv = [LIVE, "--state", str(state), "--model", str(ui_segmenter.weights), "--imgsz", "320", "--device", "cpu"]
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    output = tmp_path / "output"  # the window's default output folder (cwd/output)

    # 1. objects, everything mode, a line and recording made in the window; SIGTERM
    gui = Gui(tmp_path, "first", [sys.executable, str(driver), "make", *argv])
    gui.line("changed")
    saved = saved_when(state, lambda s: s.cameras and s.cameras[0].recording and s.cameras[0].zones and
                       [o.id for o in s.cameras[0].objects] == [2, 3], gui)
    first_recordings = set(output.glob("*.mp4"))
    assert gui.stop(signal.SIGTERM) == 143, gui.log()
    assert len(first_recordings) == 1

    # 2. the program itself, same command line: records again into a new file; SIGKILL while it runs
    gui = Gui(tmp_path, "second", [sys.executable, "-m", "fastsam_video", "gui", *argv])
    gui.wait_for(lambda: [p for p in set(output.glob("*.mp4")) - first_recordings if p.stat().st_size > 2000],
                 "a new recording")
    gui.stop(signal.SIGKILL)
    assert SavedState.model_validate_json(state.read_text()) == saved  # restored and saved again, unchanged

    # 3. restored as made; more changes, written, then SIGKILL
    gui = Gui(tmp_path, "third", [sys.executable, str(driver), "change", *argv])
    restored = json.loads(gui.line("{"))
    assert restored == {"objects": [[2, [[200.0, 150.0]], [1], None], [3, [], [], [150.0, 30.0, 300.0, 200.0]]],
                        "everything": True, "recording": True, "zones": ["door"]}, gui.log()
    gui.line("changed")
    saved_when(state, lambda s: [o.id for o in s.cameras[0].objects] == [3] and not s.cameras[0].everything and
               not s.cameras[0].recording, gui)
    assert gui.stop(signal.SIGKILL) == -signal.SIGKILL

    # 4. after kill -9: the changes of the third run are there
    gui = Gui(tmp_path, "fourth", [sys.executable, str(driver), "check", *argv])
    restored = json.loads(gui.line("{"))
    assert restored == {"objects": [[3, [], [], [150.0, 30.0, 300.0, 200.0]]], "everything": False,
                        "recording": False, "zones": ["door"]}, gui.log()
    assert gui.stop(signal.SIGTERM) == 143, gui.log()
