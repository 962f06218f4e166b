"""The zone analyser: one camera's tracked objects against its zones and lines, frame by frame.

    analyser = ZoneAnalyser(zone_set)
    update = analyser.update(track.segmentation, alive_ids, frame_index, t, everything)
    update.events      # zone_entered / zone_left / line_crossed / loitering
    update.counts      # per zone: objects inside, coverage; per line: in / out totals
    update.new_objects # boxes of new masks in detect_new zones, to be tracked from the next frame

What counts:
- presence in a zone: at least `min_fraction` of the mask inside (or the box's bottom-centre,
  `presence="bottom_center"`), seen `inertia` frames in a row before it counts as entered, and
  `inertia` frames outside before it counts as left. The event's `pts` / `frame` are those of
  the first frame of that run (when it happened), reported once the run is long enough.
- a line crossing: the mask centroid changes side and stays `inertia` frames, and its path
  between the last frame on the old side and the first on the new one passes through the
  segment (going round its end is no crossing). Frames within a pixel band of the line are no
  evidence either way, so jitter on the line never counts.
- dwell: from the entry frame; `loitering` once, at the first frame it reaches `loiter_seconds`.
- an object the tracker lost keeps its state (no evidence); one it dropped or the user removed
  leaves its zones then (`zone_left`, detail "gone").
- occupancy: the objects inside, and the share of the zone's area covered by the masks.

Owned by one thread (the pipeline's results thread); `set_zones` is the only call from others
(a reference swap, applied on the next `update`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..events import Event, EventKind
from ..types import Segmentation
from .geometry import Line, Presence, Zone, ZoneSet
from .masks import MaskWindow, ZoneRaster, grid_stride, grid_union, mask_windows
from .new_objects import NewObject, NewObjectFinder

FLASH_FRAMES = 8  # frames a crossed line (and the object crossing it) is drawn highlighted


@dataclass(frozen=True)
class ZoneCount:
    """A zone's or line's figures as of the last frame."""

    name: str
    kind: str  # "zone" or "line"
    objects: tuple[int, ...] = ()  # inside now (zones)
    coverage: float = 0.0  # share of the zone's area covered by masks (zones)
    entered: int = 0  # totals since the zone was set
    left: int = 0
    crossed_in: int = 0  # lines
    crossed_out: int = 0
    flash: bool = False  # a line crossed within the last few frames

    @property
    def count(self) -> int:
        return len(self.objects) if self.kind == "zone" else self.crossed_in + self.crossed_out

    def label(self) -> str:
        if self.kind == "line":
            return f"{self.name}: in {self.crossed_in} out {self.crossed_out}"
        return f"{self.name}: {len(self.objects)} ({self.coverage:.0%})"

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "count": self.count}
        if self.kind == "zone":
            out.update(objects=list(self.objects), coverage=round(self.coverage, 4), entered=self.entered,
                       left=self.left)
        else:
            out.update(crossed_in=self.crossed_in, crossed_out=self.crossed_out)
        return out


@dataclass(frozen=True)
class ZoneUpdate:
    events: tuple[Event, ...] = ()
    counts: tuple[ZoneCount, ...] = ()
    new_objects: tuple[NewObject, ...] = ()  # to be tracked; then `note_new(object_id, new_object)`
    flashing: tuple[int, ...] = ()  # objects that just crossed a line


@dataclass
class _Run:
    """Evidence against the confirmed state: how many frames, since which one."""

    frames: int = 0
    frame: int = 0
    t: float = 0.0
    pos: tuple[float, float] | None = None


@dataclass
class _Presence:
    inside: bool = False
    run: _Run = field(default_factory=_Run)
    entered_t: float = 0.0
    loitered: bool = False


@dataclass
class _Side:
    side: int = 0  # -1 left of start->end, +1 right, 0 not known yet
    last: tuple[float, float] | None = None  # last position on the confirmed side
    run: _Run = field(default_factory=_Run)


@dataclass
class _ZoneState:
    zone: Zone
    objects: dict[int, _Presence] = field(default_factory=dict)
    entered: int = 0
    left: int = 0
    coverage: float = 0.0
    finder: NewObjectFinder | None = None
    origins: dict[int, tuple[int, float]] = field(default_factory=dict)  # found here: (frame, t) first seen


@dataclass
class _LineState:
    line: Line
    objects: dict[int, _Side] = field(default_factory=dict)
    crossed_in: int = 0
    crossed_out: int = 0
    flash: int = 0


def _signed_distance(line_px: np.ndarray, point: tuple[float, float]) -> float:
    """Pixels from the line, positive on its right (screen coordinates, y down)."""
    (ax, ay), (bx, by) = line_px
    dx, dy = bx - ax, by - ay
    return (dx * (point[1] - ay) - dy * (point[0] - ax)) / math.hypot(dx, dy)


def _through_segment(line_px: np.ndarray, p: tuple[float, float], q: tuple[float, float]) -> bool:
    """Whether the path p -> q (which changes side) meets the segment itself, not its extension."""
    dp, dq = _signed_distance(line_px, p), _signed_distance(line_px, q)
    if dp == dq:
        return False
    s = dp / (dp - dq)
    x, y = p[0] + (q[0] - p[0]) * s, p[1] + (q[1] - p[1]) * s
    (ax, ay), (bx, by) = line_px
    u = ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)
    return -0.02 <= u <= 1.02


class ZoneAnalyser:
    """See the module docstring. `band`: pixels either side of a line that give no side."""

    def __init__(self, zones: ZoneSet | None = None, band: float = 1.5):
        self.band = band
        self._wanted: ZoneSet = zones or ZoneSet()  # set from any thread; applied when it is not `zones`
        self.zones = ZoneSet()  # the ones applied (a fresh instance: `_wanted` is applied at the first frame)
        self._zone_states: dict[str, _ZoneState] = {}
        self._line_states: dict[str, _LineState] = {}
        self._size: tuple[int, int] | None = None
        self._rasters: dict[str, ZoneRaster] = {}
        self._lines_px: dict[str, np.ndarray] = {}
        self.counts: tuple[ZoneCount, ...] = ()
        self._flashing: dict[int, int] = {}  # object id -> frames left to draw it highlighted

    # -------------------------------------------------------------- configuration (any thread)
    def set_zones(self, zones: ZoneSet) -> None:
        """Replace the zones; applied at the next frame. A zone or line that kept its definition
        keeps its state and totals; a changed one starts afresh."""
        self._wanted = zones  # one reference: no update is lost to a frame applying the previous one

    def _apply(self, height: int, width: int) -> None:
        pending = self._wanted if self._wanted is not self.zones else None
        if pending is not None:
            self._zone_states = {z.name: (self._zone_states[z.name] if z.name in self._zone_states
                                          and self._zone_states[z.name].zone == z else
                                          _ZoneState(z, finder=NewObjectFinder(z) if z.detect_new else None))
                                 for z in pending.zones}
            self._line_states = {l.name: (self._line_states[l.name] if l.name in self._line_states
                                          and self._line_states[l.name].line == l else _LineState(l))
                                 for l in pending.lines}
            self.zones = pending
        if pending is not None or self._size != (height, width):
            self._size = (height, width)
            stride = grid_stride(height, width)
            self._rasters = {z.name: ZoneRaster.of(z, height, width, stride) for z in self.zones.zones}
            self._lines_px = {l.name: np.array([l.start, l.end], float) * [width, height] for l in self.zones.lines}

    def note_new(self, object_id: int, found: NewObject) -> None:
        """`found` (from `ZoneUpdate.new_objects`) is now tracked as `object_id`: its entry into the
        zone that found it dates from when that zone first saw it."""
        state = self._zone_states.get(found.zone)
        if state is not None:
            state.origins[object_id] = (found.frame, found.t)

    # -------------------------------------------------------------- per frame (one thread)
    def update(self, seg: Segmentation, alive: set[int] | None, frame_index: int, t: float,
               everything: Segmentation | None = None) -> ZoneUpdate:
        """`seg`: the tracked objects' masks this frame (ids = object ids); `alive`: every object
        the tracker still keeps (lost ones too; None = those of `seg`); `everything`: all masks
        of the frame, for zones that find new objects."""
        height, width = seg.shape
        self._apply(height, width)
        if not len(self.zones):
            self.counts = ()
            return ZoneUpdate()
        stride = grid_stride(height, width)
        ids = seg.object_ids.tolist()
        alive = set(ids) if alive is None else set(alive) | set(ids)
        windows = mask_windows(seg, stride)
        events: list[Event] = []
        flashing: list[int] = []
        union = grid_union(windows, height, width, stride) if self._zone_states else None
        spans = np.array([(w.r0, w.r1, w.c0, w.c1) for w in windows], int).reshape(-1, 4)
        for state in self._zone_states.values():
            raster = self._rasters[state.zone.name]
            near = (spans[:, 0] < raster.r1) & (spans[:, 1] > raster.r0) & (spans[:, 2] < raster.c1) \
                & (spans[:, 3] > raster.c0)  # the box meets the zone's bounding box: worth a look
            inside = [bool(near[k]) and self._observe_inside(state.zone, raster, seg, k, windows[k])
                      for k in range(len(ids))]
            self._update_zone(state, ids, inside, alive, frame_index, t, events)
            state.coverage = raster.covered(union)
        if self._line_states:
            centroids = [w.centroid(stride) if w.area else _box_center(seg.boxes[k]) for k, w in enumerate(windows)]
            for state in self._line_states.values():
                self._update_line(state, ids, centroids, alive, frame_index, t, events, flashing)
        new_boxes: list[NewObject] = []
        if everything is not None:
            for state in self._zone_states.values():
                if state.finder is not None:
                    new_boxes += state.finder.update(everything, union, self._rasters[state.zone.name], stride,
                                                     frame_index, t)
        self.counts = tuple(self._counts())
        self._flashing = {o: n - 1 for o, n in self._flashing.items() if n > 1 and o in alive}
        self._flashing.update({o: FLASH_FRAMES for o in flashing})
        return ZoneUpdate(tuple(events), self.counts, tuple(new_boxes), tuple(self._flashing))

    def _observe_inside(self, zone: Zone, raster: ZoneRaster, seg: Segmentation, k: int, win: MaskWindow) -> bool:
        if zone.presence is Presence.BOTTOM_CENTER:
            x1, _, x2, y2 = seg.boxes[k].tolist()
            return raster.contains((x1 + x2) / 2, y2 - 0.5)
        if win.area < 4:  # smaller than a few grid cells: its centre decides
            x, y = _box_center(seg.boxes[k])
            return raster.contains(x, y)
        return raster.inside_cells(win) >= zone.min_fraction * win.area

    def _update_zone(self, state: _ZoneState, ids, observed, alive, frame_index, t, events) -> None:
        zone = state.zone
        for object_id, inside in zip(ids, observed):
            obj = state.objects.setdefault(object_id, _Presence())
            if inside == obj.inside:
                obj.run = _Run()
            else:
                if obj.run.frames == 0:
                    obj.run = _Run(0, frame_index, t)
                obj.run.frames += 1
                if obj.run.frames >= zone.inertia:
                    obj.inside, run = inside, obj.run
                    obj.run = _Run()
                    origin = state.origins.pop(object_id, None)
                    if inside and origin is not None and origin[0] < run.frame:
                        run = _Run(run.frames, *origin)
                    if inside:
                        state.entered += 1
                        obj.entered_t, obj.loitered = run.t, False
                    else:
                        state.left += 1
                    events.append(Event(EventKind.ZONE_ENTERED if inside else EventKind.ZONE_LEFT,
                                        object_id=object_id, pts=run.t, frame=run.frame, zone=zone.name))
            if obj.inside and zone.loiter_seconds > 0 and not obj.loitered \
                    and t - obj.entered_t >= zone.loiter_seconds - 1e-6:
                obj.loitered = True
                events.append(Event(EventKind.LOITERING, object_id=object_id, pts=t, frame=frame_index,
                                    zone=zone.name, detail=f"{t - obj.entered_t:.1f} s"))
        for object_id in [o for o in state.objects if o not in alive]:
            state.origins.pop(object_id, None)
            if state.objects.pop(object_id).inside:
                state.left += 1
                events.append(Event(EventKind.ZONE_LEFT, object_id=object_id, pts=t, frame=frame_index,
                                    zone=zone.name, detail="gone"))

    def _update_line(self, state: _LineState, ids, centroids, alive, frame_index, t, events, flashing) -> None:
        line, line_px = state.line, self._lines_px[state.line.name]
        state.flash = max(state.flash - 1, 0)
        (ax, ay), (bx, by) = line_px
        points = np.array(centroids, float).reshape(-1, 2)
        distances = ((bx - ax) * (points[:, 1] - ay) - (by - ay) * (points[:, 0] - ax)) / math.hypot(bx - ax, by - ay)
        sides = np.where(np.abs(distances) < self.band, 0, np.sign(distances)).astype(int).tolist()
        for object_id, pos, side in zip(ids, centroids, sides):
            obj = state.objects.setdefault(object_id, _Side())
            if side == 0:
                continue  # on the line: no evidence
            if obj.side == 0 or side == obj.side:
                obj.side, obj.last, obj.run = side, pos, _Run()
                continue
            if obj.run.frames == 0:
                obj.run = _Run(0, frame_index, t, pos)
            obj.run.frames += 1
            if obj.run.frames >= line.inertia:
                run, last = obj.run, obj.last
                obj.side, obj.last, obj.run = side, pos, _Run()
                if last is not None and _through_segment(line_px, last, run.pos):
                    direction = "in" if side > 0 else "out"
                    if side > 0:
                        state.crossed_in += 1
                    else:
                        state.crossed_out += 1
                    state.flash = FLASH_FRAMES
                    flashing.append(object_id)
                    events.append(Event(EventKind.LINE_CROSSED, object_id=object_id, pts=run.t, frame=run.frame,
                                        zone=line.name, direction=direction))
        for object_id in [o for o in state.objects if o not in alive]:
            del state.objects[object_id]

    def _counts(self):
        for region in self.zones:
            if isinstance(region, Zone):
                s = self._zone_states[region.name]
                yield ZoneCount(region.name, "zone", tuple(sorted(o for o, p in s.objects.items() if p.inside)),
                                s.coverage, s.entered, s.left)
            else:
                s = self._line_states[region.name]
                yield ZoneCount(region.name, "line", crossed_in=s.crossed_in, crossed_out=s.crossed_out,
                                flash=s.flash > 0)


def _box_center(box) -> tuple[float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1 + x2) / 2, (y1 + y2) / 2
