"""The window on a video file (mixed into `main_window.MainWindow`): the file is a
`PlaybackSource`, and the player bar (`player_bar`) with Space, Left and Right pauses, plays,
steps and seeks it. Clicks on the paused frame prompt on that frame: the pipeline delivers it
again with the new prompts (`PlaybackSource.refresh`), so the mask shows at once. Live sources
(webcams, streams) and several cameras have no bar, and the keys do nothing there."""

from __future__ import annotations

import time

from PyQt6.QtCore import QTimer

from ..sources import redact_url
from ..sources.playback import NotPlayable, PlaybackCommand, PlaybackError, PlaybackPosition, PlaybackSource
from .player_bar import PlayerBar
from .player_state import EndNote, PlayerKey, PlayerState


class PlaybackMixin:
    """MainWindow's player; uses the window's `_action`, `_pipeline`, `loop_action`, `show_status`."""

    def _build_player_actions(self) -> None:
        a = self._action
        self.play_action = a("&Pause / play", lambda: self.player_key(PlayerKey.TOGGLE), "Space")
        self.step_back_action = a("Frame &back", lambda: self.player_key(PlayerKey.BACK), "Left")
        self.step_forward_action = a("Frame &forward", lambda: self.player_key(PlayerKey.FORWARD), "Right")
        self._player_actions = (self.play_action, self.step_back_action, self.step_forward_action)
        for action in self._player_actions:
            action.setEnabled(False)  # until a file plays: the keys stay the focused widget's

    def _build_player(self) -> PlayerBar:
        self._player = PlayerState()
        self._player_source: PlaybackSource | None = None
        self.player_bar = PlayerBar()
        self.player_bar.keyPressed.connect(self.player_key)
        self.player_bar.seekRequested.connect(self.seek_frame)
        self._player_timer = QTimer(self)
        self._player_timer.setInterval(100)
        self._player_timer.timeout.connect(self._update_player)
        self._player_timer.start()
        self.resultShown.connect(lambda _result: self._update_player())
        return self.player_bar

    def _add_player_menu(self, bar) -> None:
        menu = bar.addMenu("P&layback")
        for action in self._player_actions:
            menu.addAction(action)

    # ------------------------------------------------------------------ public
    def playback(self) -> PlaybackSource | None:
        """The running file's playback control; None for a live source, several cameras or none."""
        pipeline = self._pipeline
        if pipeline is None or len(pipeline.camera_ids()) != 1:
            return None
        try:
            return pipeline.playback(pipeline.camera_ids()[0])
        except (NotPlayable, AttributeError):
            return None

    def playback_position(self) -> PlaybackPosition | None:
        """The frame on screen, its time, the file's frames, paused (None: not a file)."""
        source = self.playback()
        return source.position() if source is not None else None

    def player_key(self, key: PlayerKey) -> None:
        """Space / Left / Right or a bar button."""
        source = self.playback()
        if source is not None:
            self._send(source, self._player.command(key, source.position()))

    def seek_frame(self, frame: int) -> None:
        """Show frame `frame` (0-based); playing, play on from there."""
        source = self.playback()
        if source is not None:
            self._send(source, self._player.seek(frame, source.position()))

    def _send(self, source: PlaybackSource, command: PlaybackCommand | None) -> None:
        if command is None:
            return
        try:
            position = source.apply(command)
        except PlaybackError as err:
            self.show_status(str(err), 6000)
            return
        self._player.asked(position, time.monotonic())
        self._update_player()

    def _update_player(self) -> None:
        source = self.playback()
        if source is not self._player_source:  # another file, or none: a fresh player
            self._player_source, self._player = source, PlayerState()
            for action in self._player_actions:
                action.setEnabled(source is not None)
        position = source.position() if source is not None else None
        self.player_bar.show_position(self._player.display(position, time.monotonic()))
        note = self._player.update(position, loop=self.loop_action.isChecked())
        if note is EndNote.LOOP:
            self._send(source, PlaybackCommand.play())  # at the end, play starts from the first frame
        elif note is EndNote.ENDED:
            self.show_status(f"End of {redact_url(source.name)}: paused on its last frame "
                             "(Space plays it again, Left steps back)", 10000)
