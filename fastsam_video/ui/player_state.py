"""The main window's player bar without Qt: the position line, which buttons are enabled, what a
key or button asks of a `PlaybackSource`, and what the window does at the end of the file.

    player = PlayerState()
    player.command(PlayerKey.TOGGLE, source.position())   # PlaybackCommand.pause() / play() / None
    player.update(source.position(), loop=False)          # EndNote.ENDED once, at the end of the file
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..sources.playback import PlaybackCommand, PlaybackPosition


class PlayerKey(enum.Enum):
    """What the user asked for: Space / the play button, Left / Right / the step buttons."""

    TOGGLE = "toggle"
    BACK = "back"
    FORWARD = "forward"


class EndNote(enum.Enum):
    """What reaching the end of the file means for the window."""

    NONE = "none"  # not at the end, or already said
    ENDED = "ended"  # paused on the last frame: say so once
    LOOP = "loop"  # Loop is on: play again from the first frame


@dataclass(frozen=True)
class Enabled:
    """Which controls do something at a position."""

    back: bool
    forward: bool
    seek: bool


def clock(seconds: float) -> str:
    """4.0 -> '4.00 s'; 75.5 -> '1:15.50'."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def position_text(position: PlaybackPosition | None) -> str:
    """'frame 120 / 299 · 4.00 s' (the frame shown, the last frame, the shown frame's time)."""
    if position is None:
        return ""
    return f"frame {position.frame} / {position.frames - 1} · {clock(position.time)}"


def enabled(position: PlaybackPosition | None) -> Enabled:
    """A step at either end stays there: its button is off; one frame: nothing to seek."""
    if position is None:
        return Enabled(False, False, False)
    return Enabled(back=position.frame > 0, forward=position.frame < position.frames - 1,
                   seek=position.frames > 1)


class PlayerState:
    """One file's playback as the window sees it: which pause was the user's (the end of the file
    pauses too), and whether the end was announced."""

    PENDING_SECONDS = 3.0  # an asked-for frame that never shows (it did not decode) stops being shown

    def __init__(self) -> None:
        self.user_paused = False
        self._end_seen = False
        self._asked: tuple[PlaybackPosition, float] | None = None

    def asked(self, position: PlaybackPosition, now: float) -> None:
        """A command was sent; `position`: the one it asked for (shown until the frame is there)."""
        self._asked = (position, now) if position.paused else None

    def display(self, position: PlaybackPosition | None, now: float) -> PlaybackPosition | None:
        """What the bar shows: paused, the frame asked for by a step or seek until it is on screen
        (so the slider does not jump back meanwhile); else the frame shown."""
        if position is None or self._asked is None:
            self._asked = None
            return position
        asked, when = self._asked
        if position.frame == asked.frame or not position.paused or now - when > self.PENDING_SECONDS:
            self._asked = None
            return position
        return asked

    def command(self, key: PlayerKey, position: PlaybackPosition | None) -> PlaybackCommand | None:
        """The command for `key` at `position`; None where it does nothing (no file, a step past an end)."""
        if position is None:
            return None
        if key is PlayerKey.TOGGLE:
            self.user_paused = not position.paused
            return PlaybackCommand.pause() if self.user_paused else PlaybackCommand.play()
        allowed = enabled(position)
        if (key is PlayerKey.BACK and not allowed.back) or (key is PlayerKey.FORWARD and not allowed.forward):
            return None
        self.user_paused = True  # a step pauses
        return PlaybackCommand.step(-1 if key is PlayerKey.BACK else 1)

    def seek(self, frame: int, position: PlaybackPosition | None) -> PlaybackCommand | None:
        """The slider moved to `frame`: a seek (None outside the file, or with no file). Paused, the
        pause is the user's from now on (a seek to the last frame is not the end of playing)."""
        if position is None or not 0 <= frame < position.frames:
            return None
        if position.paused:
            self.user_paused = True
        return PlaybackCommand.seek(frame)

    def update(self, position: PlaybackPosition | None, *, loop: bool) -> EndNote:
        """Called as the position changes: EndNote.ENDED once when the file paused itself on its
        last frame (LOOP instead when looping), else NONE."""
        if position is None:
            return EndNote.NONE
        at_end = position.paused and position.frame >= position.frames - 1 and not self.user_paused
        if not at_end:
            if not position.paused:
                self._end_seen = False
            return EndNote.NONE
        if self._end_seen:
            return EndNote.NONE
        self._end_seen = True
        return EndNote.LOOP if loop else EndNote.ENDED
