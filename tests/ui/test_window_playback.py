"""The window on a video file (issue 26): the player bar pauses, steps and seeks with exact frames
(index and content), a click on the paused frame shows its object's mask on that frame at once,
Space plays on; live sources have no bar. Real window, bundled model, CPU, offscreen."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PyQt6.QtCore import Qt

from fastsam_video.events import EventKind
from fastsam_video.render import color_of
from tests.test_seeking import level, vfr_file  # noqa: F401  (a fixture)

from .conftest import CLIP
from .test_window import centre, ground_truth, widget_pos

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]

WAIT = 60_000


@pytest.fixture(scope="module")
def decoded() -> list[np.ndarray]:
    """Every frame of the clip, decoded on its own (BGR, as the window's frames)."""
    with av.open(str(CLIP)) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def on_frame(window, index: int) -> bool:
    latest = window.latest_result
    return latest is not None and latest.frame.index == index and window.view.frame is latest.annotated


def shows(window, index: int, decoded) -> None:
    """Frame `index` is on screen, exactly the file's frame `index`."""
    latest = window.latest_result
    assert latest.frame.index == index and np.array_equal(latest.frame.image, decoded[index])
    assert window.view.frame is latest.annotated
    position = window.playback_position()
    assert position.frame == index and position.paused
    assert window.player_bar.slider.value() == index
    assert window.player_bar.text() == f"frame {index} / {len(decoded) - 1} · {latest.frame.pts:.2f} s"


@pytest.mark.parametrize("argv", [("--fast",), ()], ids=["every-frame", "real-time"])
def test_pause_step_seek_and_prompt_on_the_paused_frame(qtbot, make_window, ui_segmenter, decoded, argv):
    window = make_window(ui_segmenter, *argv)
    window.open_source(str(CLIP))
    qtbot.waitUntil(lambda: window.latest_result is not None, timeout=WAIT)
    assert window.player_bar.isVisible() and window.play_action.isEnabled()
    window.set_everything(False)  # the frame's own pixels, no faint masks over them

    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause
    qtbot.waitUntil(lambda: window.playback_position().paused, timeout=5000)
    assert window.player_bar.play_button.text() == "▶"

    window.player_bar.slider.setValue(30)  # as a click on the seek bar does
    qtbot.waitUntil(lambda: on_frame(window, 30), timeout=WAIT)
    shows(window, 30, decoded)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: on_frame(window, 31), timeout=WAIT)
    shows(window, 31, decoded)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: on_frame(window, 29), timeout=WAIT)
    shows(window, 29, decoded)
    qtbot.mouseClick(window.player_bar.forward_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: on_frame(window, 30), timeout=WAIT)
    shows(window, 30, decoded)
    # typing in the text prompt field: Space and the arrows are the field's, not the player's
    window.text_edit.setFocus()
    qtbot.keyClicks(window.text_edit, "a b")
    qtbot.keyClick(window.text_edit, Qt.Key.Key_Left)
    assert window.text_edit.text() == "a b" and window.text_edit.cursorPosition() == 2
    assert window.playback_position().paused and window.playback_position().frame == 30
    window.text_edit.clear()
    window.grid.setFocus()

    # a click on the paused frame: the object and its mask on that same frame, at once
    x, y = (round(v) for v in centre(ground_truth(30, 1)))
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=widget_pos(window, (x, y)).toPoint())
    (prompt,) = window.prompts.objects

    def masked() -> bool:
        latest = window.latest_result
        return (on_frame(window, 30) and latest.segmentation.label_map()[y, x] == prompt.object_id)

    qtbot.waitUntil(masked, timeout=10_000)
    assert window.playback_position().frame == 30 and window.playback_position().paused
    raw = decoded[30][y, x].astype(float)
    blended = 0.5 * raw + 0.5 * np.array(color_of(prompt.object_id), float)  # the overlay's alpha 0.5
    assert np.abs(window.view.frame[y, x].astype(float) - blended).max() <= 3

    qtbot.keyClick(window, Qt.Key.Key_Space)  # play on from there
    qtbot.waitUntil(lambda: window.latest_result.frame.index > 31, timeout=WAIT)
    assert not window.playback_position().paused and window.player_bar.play_button.text() == "❚❚"
    added = [e for e in window.events_panel.events() if e.kind is EventKind.OBJECT_ADDED]
    assert [e.object_id for e in added] == [prompt.object_id]  # listed once (not again from the subscription)


def test_the_end_of_the_file_pauses_on_its_last_frame_and_space_plays_it_again(qtbot, make_window, ui_segmenter,
                                                                              decoded):
    window = make_window(ui_segmenter, "--fast")
    window.open_source(str(CLIP))
    qtbot.waitUntil(lambda: window.latest_result is not None, timeout=WAIT)
    window.player_bar.slider.setValue(len(decoded) - 3)  # playing: plays on from there
    last = len(decoded) - 1
    qtbot.waitUntil(lambda: on_frame(window, last) and window.playback_position().paused, timeout=WAIT)
    qtbot.waitUntil(lambda: "End of" in window.statusBar().currentMessage(), timeout=5000)
    assert window.pipeline is not None  # a file under playback does not end: it waits on its last frame
    assert not window.player_bar.forward_button.isEnabled() and window.player_bar.back_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.latest_result.frame.index < last, timeout=WAIT)  # from the first frame


def test_a_folder_of_images_has_no_player_bar_and_the_keys_do_nothing(qtbot, make_window, ui_segmenter, tmp_path,
                                                                     decoded):
    import cv2

    for i, image in enumerate(decoded):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), image)
    window = make_window(ui_segmenter, "--fast")
    window.open_source(str(tmp_path))
    qtbot.waitUntil(lambda: window.latest_result is not None, timeout=WAIT)
    assert window.playback() is None and not window.player_bar.isVisible()
    assert not window.play_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    index = window.latest_result.frame.index
    qtbot.waitUntil(lambda: window.latest_result.frame.index > index, timeout=WAIT)  # it went on


def test_steps_and_seeks_are_exact_on_a_variable_frame_rate_file(qtbot, make_window, ui_segmenter, vfr_file):
    """Irregular frame intervals: the frame shown and the time in the bar are that frame's own."""
    path, times = vfr_file
    window = make_window(ui_segmenter, "--fast")
    window.open_source(str(path))
    qtbot.waitUntil(lambda: window.latest_result is not None, timeout=WAIT)
    window.set_everything(False)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.playback_position().paused, timeout=5000)
    for move, n in ((lambda: window.player_bar.slider.setValue(47), 47),
                    (lambda: qtbot.keyClick(window, Qt.Key.Key_Left), 46),
                    (lambda: window.player_bar.slider.setValue(5), 5),
                    (lambda: qtbot.keyClick(window, Qt.Key.Key_Right), 6)):
        move()
        qtbot.waitUntil(lambda: on_frame(window, n), timeout=WAIT)
        assert abs(float(window.latest_result.frame.image.mean()) - level(n)) < 4
        assert window.player_bar.text() == f"frame {n} / {len(times) - 1} · {times[n]:.2f} s"
