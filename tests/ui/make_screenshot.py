"""Regenerates docs/screenshot.png: the real window (X11, e.g. under Xvfb) on the sample clip
with two tracked objects, one clicked and one boxed, after a few frames.

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 .venv/bin/python tests/ui/make_screenshot.py [OUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_VERBOSE", "False")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PyQt6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from fastsam_video.sinks import read_davis_png  # noqa: E402
from fastsam_video.ui import fix_qt_environment, window_options  # noqa: E402
from fastsam_video.ui.geometry import frame_to_widget  # noqa: E402
from fastsam_video.ui.main_window import MainWindow  # noqa: E402

CLIP_DIR = ROOT / "samples" / "clips" / "crossing"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    fix_qt_environment()
    app = QApplication([])  # noqa: F841  (kept alive for the whole run)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(window_options(["--fast", "--device", "cpu"]), settings=settings, output_dir=tempfile.mkdtemp())
    window.resize(1240, 740)
    window.move(20, 20)
    window.show()
    shown = []
    window.resultShown.connect(shown.append)

    def spin(seconds: float, until=lambda: False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            QTest.qWait(20)  # sleeps in the event loop: a busy loop would starve the inference thread of the GIL

    def to_widget(point) -> QPoint:
        x, y = frame_to_widget(point, window.view.size(), window.view.frame_size())
        return QPoint(round(x), round(y))

    window.open_source(str(CLIP_DIR / "video.mp4"))
    spin(120, lambda: len(shown) > 0)
    if not shown:
        print("no frame came", file=sys.stderr)
        return 1
    index = shown[-1].frame.index
    truth = read_davis_png(CLIP_DIR / "Annotations" / f"{index:05d}.png")
    ys, xs = np.nonzero(truth == 1)
    QTest.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=to_widget((xs.mean(), ys.mean())))
    ys, xs = np.nonzero(truth == 2)
    a, b = to_widget((xs.min() - 4, ys.min() - 4)), to_widget((xs.max() + 5, ys.max() + 5))
    QTest.mousePress(window.view, Qt.MouseButton.LeftButton, pos=a)
    QTest.mouseMove(window.view, b)
    QTest.mouseRelease(window.view, Qt.MouseButton.LeftButton, pos=b)
    window.select_object(1)
    spin(60, lambda: shown[-1].frame.index >= index + 8)
    window.start_recording()  # into a temporary folder: the screenshot shows the REC line
    started = time.monotonic()
    spin(60, lambda: shown[-1].frame.index >= index + 18 and time.monotonic() - started > 2.2)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"{out}: frame {shown[-1].frame.index}, objects {window.object_list.rows()}, {window.stats_text()}")
    if window.pipeline is not None:
        print(window.pipeline.snapshot().line())
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
