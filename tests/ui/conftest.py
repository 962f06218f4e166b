"""Fixtures for the window tests: offscreen Qt, the bundled model (or the checkpoint being
trained, until weights/ has the bundled one), a window on private settings."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = os.environ.get("FASTSAM_UI_TEST_PLATFORM", "offscreen")  # before any Qt import
os.environ.setdefault("YOLO_VERBOSE", "False")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from fastsam_video.ui import fix_qt_environment  # noqa: E402

fix_qt_environment()  # before pytest-qt makes the QApplication

ROOT = Path(__file__).resolve().parents[2]
CLIP_DIR = ROOT / "samples" / "clips" / "crossing"
CLIP = CLIP_DIR / "video.mp4"
DEV_WEIGHTS = ROOT / "runs" / "segment" / "runs" / "bundled" / "train" / "weights" / "last.pt"


@pytest.fixture(scope="session")
def ui_segmenter():
    """The bundled model on the CPU; while weights/ lacks it, the checkpoint in training."""
    from fastsam_video.engines.pytorch import BUNDLED_NAME, Segmenter

    if (ROOT / "weights" / BUNDLED_NAME).exists():
        return Segmenter(device="cpu")
    if DEV_WEIGHTS.exists():
        return Segmenter(DEV_WEIGHTS, device="cpu", imgsz=320)
    pytest.skip(f"no model: weights/{BUNDLED_NAME} is missing")


@pytest.fixture
def settings(tmp_path):
    from PyQt6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings, tmp_path):
    """make_window(segmenter, *argv) -> a shown MainWindow on private settings; closed after the test."""
    from fastsam_video.ui import window_options
    from fastsam_video.ui.main_window import MainWindow

    def make(segmenter=None, *argv: str, size=(1000, 640)):
        window = MainWindow(window_options(list(argv)), segmenter=segmenter, settings=settings,
                            output_dir=tmp_path / "out")
        qtbot.addWidget(window)  # closed (so shut down) at teardown
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def results(make_window):
    """A list the next window's displayed results are appended to (see `window_on_clip`)."""
    return []


@pytest.fixture
def window_on_clip(make_window, ui_segmenter, qtbot, results):
    """A window playing the sample clip frame by frame (--fast), with its first result shown."""
    window = make_window(ui_segmenter, "--fast")
    window.resultShown.connect(results.append)
    window.open_source(str(CLIP))
    qtbot.waitUntil(lambda: len(results) > 0, timeout=60_000)
    return window
