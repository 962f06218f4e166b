"""The server's cameras at start (the state file, the config file, the command line) and the
state file kept up to date after every change (see `state` for the file itself).

At start: the saved cameras come back with their ids, objects, everything mode, recording and
zones; cameras of the config file that the state does not know are added; the command line's
SOURCEs (or the demo) are used only when neither gives a camera.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import fields, replace
from pathlib import Path
from typing import Callable

from ..analytics.geometry import ZoneSet
from ..config import SiteConfig
from ..errors import FastSAMVideoError
from ..options import StreamOptions
from ..sources import redact_url
from ..state import SavedCamera, SavedState, StateFile, prompt_config, prompt_set
from ..workers import reason
from .service import LiveService

log = logging.getLogger(__name__)

STREAM_KEYS = {f.name for f in fields(StreamOptions)}
DEFAULT_SEGMENT_SECONDS = 600.0  # a config camera with `record: true`


def snapshot(live: LiveService, unrestored: list[SavedCamera] = ()) -> SavedState:
    """The state of `live`; `unrestored`: saved cameras that could not start this time (a file
    missing for now), kept in the file unless their id went to another camera."""
    cameras = []
    for camera in sorted(live.cameras(), key=lambda c: c.id):
        prompts = live.pipeline.prompts_of(camera.id)
        cameras.append(SavedCamera(id=camera.id, source=None if camera.name else camera.spec, name=camera.name,
                                   everything=prompts.everything,
                                   objects=[prompt_config(p) for p in prompts.objects],
                                   recording=live.pipeline.recording_of(camera.id) is not None,
                                   zones=_zones_of(live, camera)))
    used = {c.id for c in cameras}
    return SavedState(cameras=sorted(cameras + [c for c in unrestored if c.id not in used], key=lambda c: c.id))


def _zones_of(live: LiveService, camera) -> list[dict]:
    """The camera's zones and lines (their to_dict form); a cluster's cameras keep what was given."""
    if hasattr(live.pipeline, "zones_of"):
        return live.pipeline.zones_of(camera.id).to_list()
    return list(camera.zones)


class StateKeeper:
    """Writes the state file after every change of `live` (on the changing request's thread)."""

    def __init__(self, live: LiveService, state: StateFile):
        self.live, self.state = live, state
        self.paused = True  # not while the cameras are being restored
        self.unrestored: list[SavedCamera] = []
        self._lock = threading.Lock()  # snapshot and write together: two requests never write out of order
        live.on_change(self.save)

    def save(self) -> None:
        if self.paused:
            return
        try:
            with self._lock:
                self.state.save(snapshot(self.live, self.unrestored))
        except OSError as err:  # a full disk: the service goes on, the next change tries again
            log.error("cannot write the state file %s: %s", self.state.path, reason(err))


def start_cameras(live: LiveService, stream: StreamOptions, saved: SavedState | None, config: SiteConfig | None,
                  sources: list[str], default_opener: Callable) -> list[SavedCamera]:
    """Adds the cameras the server starts with (see the module's docstring); returns the saved
    cameras that could not start."""
    unrestored = []
    configured = dict(config.cameras) if config else {}
    known = set()
    for cam in saved.cameras if saved else []:
        spec = configured[cam.name].source if cam.name in configured else cam.source
        if spec is None:
            log.warning("camera %d (%s) is in the state file but no longer in the config: not restored", cam.id,
                        cam.name)
            continue
        known.add(cam.name)
        if _add(live, stream, config, cam.name, spec, prompt_set(cam.objects, cam.everything), cam.id,
                cam.recording, cam.zones, default_opener) is None:
            unrestored.append(cam)
    for name in configured:
        if name not in known:
            settings = config.camera_settings(name)
            own = config.cameras[name].prompts
            prompts = prompt_set(own if own is not None else config.defaults.prompts or [], settings.get("everything"))
            _add(live, stream, config, name, settings["source"], prompts, None, bool(settings.get("record")),
                 settings.get("zones") or [], default_opener)
    if not live.cameras() and not saved:
        for spec in sources:
            live.add_camera(spec)
    return unrestored


def _add(live, stream, config, name, spec, prompts, camera_id, recording, zones, default_opener) -> None:
    opener, segment_seconds, folder = default_opener, None, None
    if name is not None and config is not None and name in config.cameras:
        settings = config.camera_settings(name)
        own = {k: v for k, v in settings.items() if k in STREAM_KEYS}
        if own:
            from ..factory import open_camera

            camera_stream = replace(stream, **own)
            opener = lambda s, cs=camera_stream: open_camera(s, cs)  # noqa: E731
        folder = live.output_dir / name
        segment_seconds = settings.get("segment_seconds") or DEFAULT_SEGMENT_SECONDS
    try:
        cid = live.add_camera(spec, prompts, camera_id=camera_id, name=name, open_source=opener,
                              segment_seconds=segment_seconds)
    except Exception as err:  # one camera that cannot open: the others start
        log.error("camera %s (%s) not started: %s", name or camera_id, redact_url(spec), reason(err))
        return None
    camera = live.camera(cid)
    camera.record_folder, camera.zones = folder, list(zones)
    if zones and hasattr(live.pipeline, "set_zones"):
        try:
            live.pipeline.set_zones(ZoneSet.from_list(zones), cid)
        except FastSAMVideoError as err:  # a state file edited by hand: the camera runs without them
            log.error("camera %s: its zones are not restored: %s", name or cid, reason(err))
    if recording:
        live.start_recording(cid)
    return cid


def rules(output: Path, keep_days, keep_max_size, config: SiteConfig | None):
    """The retention rules: the command line's (or the config's defaults) for the output folder,
    and each config camera's own for its folder."""
    from ..retention import Rule

    found = [Rule(output, keep_days, keep_max_size)]
    for name in config.cameras if config else []:
        settings = config.camera_settings(name)
        found.append(Rule(output / name, settings.get("keep_days"), settings.get("keep_max_size")))
    return found
