"""The file player (issue 26): pause / play, step, seek by the bar, the frame number and time,
and a click prompting on the paused frame with the result shown at once."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt

from fastsam_video.frame_prompts import load_prompts_file
from fastsam_video.sinks import read_davis_png
from fastsam_video.ui.geometry import frame_to_widget

from .conftest import CLIP, CLIP_DIR

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def decoded():
    with av.open(str(CLIP)) as video:
        return [f.to_ndarray(format="bgr24") for f in video.decode(video=0)]


@pytest.fixture
def player(qtbot, ui_segmenter):
    from fastsam_video.ui.file_player import FilePlayer

    widget = FilePlayer(CLIP, ui_segmenter)
    qtbot.addWidget(widget)
    widget.resize(640, 520)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_keys_step_and_the_bar_seeks_to_the_exact_frame(qtbot, player, decoded):
    assert player.index == 0 and np.array_equal(player.view.frame, decoded[0])
    for _ in range(3):
        qtbot.keyClick(player, Qt.Key.Key_Right)
    qtbot.keyClick(player, Qt.Key.Key_Left)
    assert player.index == 2 and np.array_equal(player.view.frame, decoded[2])
    assert player.position.text().startswith(f"frame 2 / {len(decoded) - 1}")
    assert f"{2 / 30:.3f} s" in player.position.text()
    player.slider.setValue(41)  # the seek bar
    assert player.index == 41 and np.array_equal(player.view.frame, decoded[41])
    qtbot.keyClick(player, Qt.Key.Key_Left)
    assert np.array_equal(player.view.frame, decoded[40]) and player.slider.value() == 40
    qtbot.keyClick(player, Qt.Key.Key_Space)  # play
    assert player.playing
    qtbot.waitUntil(lambda: player.index >= 44, timeout=20_000)
    qtbot.keyClick(player, Qt.Key.Key_Space)  # pause
    stopped = player.index
    qtbot.wait(200)
    assert not player.playing and player.index == stopped
    assert np.array_equal(player.view.frame, decoded[stopped])


def test_a_click_on_the_paused_frame_prompts_there_and_shows_the_mask(qtbot, player, decoded, tmp_path):
    player.seek(12)  # the two look-alike objects of the clip apart (they cross around frame 30)
    truth = read_davis_png(CLIP_DIR / "Annotations" / "00012.png") == 1
    inside = cv2.distanceTransform(truth.astype(np.uint8), cv2.DIST_L2, 5)
    y0, x0 = np.unravel_index(np.argmax(inside), inside.shape)
    point = (float(x0), float(y0))
    size = player.view.size()
    x, y = frame_to_widget(point, (size.width(), size.height()), (truth.shape[1], truth.shape[0]))
    qtbot.mouseClick(player.view, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    (entry,) = player.review.entries
    assert entry.frame == 12 and np.allclose(entry.prompt.points[0], point, atol=2)
    changed = np.abs(player.view.frame.astype(int) - decoded[12].astype(int)).sum(2) > 0
    assert changed[truth].mean() > 0.8  # the object is drawn over at once
    selected = player.review.selected().masks[0]
    assert (selected & truth).sum() / (selected | truth).sum() > 0.8
    saved = load_prompts_file(player.review.save_prompts(tmp_path / "prompts.json"))  # for run --prompts
    assert [(e.frame, e.prompt.object_id, e.prompt.points) for e in saved] == [(12, 1, entry.prompt.points)]

    qtbot.keyClick(player, Qt.Key.Key_T)  # track it over the file, forwards and backwards
    assert player.tracking
    qtbot.waitUntil(lambda: not player.tracking and player.position.text().startswith("frame"), timeout=90_000)
    for k in (0, 5, 20):  # before and after the prompted frame (before the look-alikes cross, at ~30)
        truth = read_davis_png(CLIP_DIR / "Annotations" / f"{k:05d}.png") == 1
        tracked = player.review.tracked(k)
        assert tracked is not None and tracked.object_ids.tolist() == [1], k
        mask = tracked.masks[0]
        assert (mask & truth).sum() / (mask | truth).sum() > 0.7, k
    player.seek(3)
    changed = np.abs(player.view.frame.astype(int) - decoded[3].astype(int)).sum(2) > 0
    truth = read_davis_png(CLIP_DIR / "Annotations" / "00003.png") == 1
    assert changed[truth].mean() > 0.8  # the player shows the tracked object on a frame before the prompt


def test_review_of_a_missing_or_broken_file_is_one_line(tmp_path, capsys):
    from fastsam_video.cli import main

    assert main(["annotate", str(tmp_path / "missing.mp4")]) == 2
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert main(["annotate", str(broken)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "no such file" in lines[0] and "cannot open" in lines[1], lines
