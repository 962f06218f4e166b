"""The window on a video file (issue 26, item 1): how long from a key or the seek bar (Left, Right,
a slider move) to that exact frame on screen, and from a click on the paused frame to its mask on
screen, through the Qt event loop (offscreen). Prints numbers, asserts nothing.

    QT_QPA_PLATFORM=offscreen uv run python benchmarks/window_playback_bench.py [--frames 120] [--size 1920x1080] [--repeats 10]

The clip is playback_bench's (H.264, keyframe every 60 frames, B-frames); the bundled model on the
CPU (ONNX Runtime). The pipeline part alone: benchmarks/playback_bench.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from playback_bench import make_clip, ms  # noqa: E402


def main() -> None:
    from PyQt6.QtCore import QPointF, QSettings, Qt
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    from fastsam_video.engines import open_engine
    from fastsam_video.options import ModelOptions
    from fastsam_video.ui import fix_qt_environment, window_options
    from fastsam_video.ui.geometry import frame_to_widget
    from fastsam_video.ui.main_window import MainWindow

    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    fix_qt_environment()
    app = QApplication([])
    segmenter = open_engine(ModelOptions(device="cpu", backend="onnx"))

    def until(predicate, timeout=60.0):
        deadline = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > deadline:
                raise TimeoutError("not shown")
            app.processEvents()
            time.sleep(0.001)
        return time.perf_counter()

    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "clip.mp4", args.frames, size)
        settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(window_options(["--fast"]), segmenter=segmenter, settings=settings,
                            output_dir=Path(folder) / "out")
        window.resize(1180, 700)
        window.show()
        window.open_source(str(clip))
        until(lambda: window.latest_result is not None)
        window.set_everything(False)
        QTest.keyClick(window, Qt.Key.Key_Space)
        until(lambda: window.playback_position().paused)
        time.sleep(0.5)

        def on_screen(n):
            latest = window.latest_result
            return latest is not None and latest.frame.index == n and window.view.frame is latest.annotated

        seeks, backs, forwards, prompts = [], [], [], []
        rng = np.random.default_rng(1)
        for _ in range(args.repeats):
            target = int(rng.integers(1, args.frames - 1))
            start = time.perf_counter()
            window.player_bar.slider.setValue(target)  # a click on the seek bar
            seeks.append(until(lambda: on_screen(target)) - start)
            start = time.perf_counter()
            QTest.keyClick(window, Qt.Key.Key_Left)
            backs.append(until(lambda: on_screen(target - 1)) - start)
            start = time.perf_counter()
            QTest.keyClick(window, Qt.Key.Key_Right)
            forwards.append(until(lambda: on_screen(target)) - start)
        for _ in range(min(args.repeats, 5)):
            frame = window.latest_result.frame
            x, y = size[0] // 2 + int(size[0] / 4 * np.sin(frame.index / 10)), size[1] // 2  # the clip's square
            pos = QPointF(*frame_to_widget((x, y), window.view.size(), window.view.frame_size())).toPoint()
            start = time.perf_counter()
            QTest.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=pos)
            (prompt,) = window.prompts.objects
            prompts.append(until(lambda: on_screen(frame.index) and window.latest_result.segmentation.label_map()[y, x]
                                 == prompt.object_id, timeout=10) - start)
            window.clear_prompts()
            until(lambda: on_screen(frame.index) and not window.latest_result.objects)
        window.shutdown()
        print(f"the window (offscreen), {args.size}, {args.frames} frames, bundled model on the CPU (ONNX Runtime)")
        print(f"  seek bar to a random frame -> on screen: {ms(seeks)}")
        print(f"  Left (one frame back)      -> on screen: {ms(backs)}")
        print(f"  Right (one frame forward)  -> on screen: {ms(forwards)}")
        print(f"  click on the paused frame  -> its mask on screen: {ms(prompts)}")


if __name__ == "__main__":
    main()
