"""The player bar's Qt-free rules: the position line, the enabled controls, what a key asks of the
file, what the end of the file does (announce once, or loop), the asked-for frame while it comes."""

from __future__ import annotations

from fastsam_video.sources.playback import PlaybackAction, PlaybackPosition
from fastsam_video.ui.player_state import Enabled, EndNote, PlayerKey, PlayerState, clock, enabled, position_text


def at(frame: int, paused: bool, frames: int = 300, fps: float = 30.0) -> PlaybackPosition:
    return PlaybackPosition(frame, frame / fps, frames, frames / fps, paused)


def test_position_text_names_the_frame_the_last_frame_and_the_time():
    assert position_text(at(120, True)) == "frame 120 / 299 · 4.00 s"
    assert position_text(at(0, False)) == "frame 0 / 299 · 0.00 s"
    assert position_text(at(4530, True, frames=9000)) == "frame 4530 / 8999 · 2:31.00"
    assert position_text(None) == ""
    assert clock(59.994) == "59.99 s" and clock(3600.5) == "60:00.50"


def test_steps_are_off_at_either_end_and_seek_needs_two_frames():
    assert enabled(at(0, True)) == Enabled(back=False, forward=True, seek=True)
    assert not enabled(at(299, True)).forward and enabled(at(299, True)).back
    assert enabled(at(5, False)).back and enabled(at(5, False)).forward
    assert enabled(at(0, True, frames=1)) == Enabled(False, False, False)
    assert enabled(None).seek is False


def test_keys_become_playback_commands():
    player = PlayerState()
    assert player.command(PlayerKey.TOGGLE, at(10, False)).action is PlaybackAction.PAUSE
    assert player.command(PlayerKey.TOGGLE, at(10, True)).action is PlaybackAction.PLAY
    back = player.command(PlayerKey.BACK, at(10, False))
    assert back.action is PlaybackAction.STEP and back.delta == -1
    assert player.command(PlayerKey.FORWARD, at(10, True)).delta == 1
    assert player.command(PlayerKey.BACK, at(0, True)) is None  # nothing before the first frame
    assert player.command(PlayerKey.FORWARD, at(299, True)) is None
    assert player.command(PlayerKey.TOGGLE, None) is None  # no file: the keys do nothing
    seek = player.seek(42, at(10, True))
    assert seek.action is PlaybackAction.SEEK and seek.frame == 42
    assert player.seek(300, at(10, True)) is None and player.seek(-1, at(10, True)) is None


def test_the_end_of_the_file_is_announced_once_and_again_after_playing():
    player = PlayerState()
    assert player.update(at(298, False), loop=False) is EndNote.NONE
    assert player.update(at(299, True), loop=False) is EndNote.ENDED  # the file paused itself
    assert player.update(at(299, True), loop=False) is EndNote.NONE  # once
    player.command(PlayerKey.TOGGLE, at(299, True))  # play: from the first frame again
    assert player.update(at(3, False), loop=False) is EndNote.NONE
    assert player.update(at(299, True), loop=True) is EndNote.LOOP


def test_a_pause_or_step_of_the_users_on_the_last_frame_is_not_the_end():
    player = PlayerState()
    player.command(PlayerKey.FORWARD, at(298, True))
    assert player.update(at(299, True), loop=True) is EndNote.NONE  # stepped there: no loop
    player = PlayerState()
    player.command(PlayerKey.TOGGLE, at(250, False))  # paused by the user
    player.seek(299, at(250, True))
    assert player.update(at(299, True), loop=True) is EndNote.NONE


def test_the_frame_asked_for_shows_until_it_is_on_screen():
    player = PlayerState()
    player.asked(at(42, True), now=10.0)
    assert player.display(at(7, True), now=10.1).frame == 42  # the seek bar does not jump back
    assert player.display(at(42, True), now=10.2).frame == 42
    assert player.display(at(7, True), now=10.3).frame == 7  # shown once: the source's position again
    player.asked(at(42, True), now=20.0)
    assert player.display(at(7, True), now=20.0 + PlayerState.PENDING_SECONDS + 0.1).frame == 7  # it never came
    player.asked(at(50, False), now=30.0)  # playing: the frames move on by themselves
    assert player.display(at(7, False), now=30.1).frame == 7
