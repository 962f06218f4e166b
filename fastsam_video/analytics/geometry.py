"""Zones (polygons) and lines in normalised coordinates (0-1 of the frame's width and height),
validated on creation, with a plain dict round trip for config files and saved state.

Pure Python (no numpy): the command line parses and checks `--zone` / `--line` before any
library loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Sequence

from ..errors import FastSAMVideoError

Point = tuple[float, float]
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")


class ZoneError(FastSAMVideoError):
    """A zone or line that cannot work (too few points, off the frame, self-crossing, a duplicate name)."""


class Presence(str, Enum):
    """How an object is judged inside a zone."""

    MASK = "mask"  # at least `min_fraction` of its mask lies inside (the default)
    BOTTOM_CENTER = "bottom_center"  # the bottom-centre of its box lies inside (Frigate's rule)

    def __str__(self) -> str:
        return self.value


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ZoneError(f"{what} name: expected 1-64 letters, digits, space, . _ - (starting with a letter or "
                        f"digit), got {str(name)[:40]!r}")
    return name


def _points(points: object, what: str, minimum: int) -> tuple[Point, ...]:
    try:
        out = tuple((float(x), float(y)) for x, y in points)  # type: ignore[misc, union-attr]
    except (TypeError, ValueError):
        raise ZoneError(f"{what}: expected a list of [x, y] pairs, got {str(points)[:60]}") from None
    if len(out) < minimum:
        raise ZoneError(f"{what}: expected at least {minimum} points, got {len(out)}")
    for x, y in out:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ZoneError(f"{what}: point ({x:g}, {y:g}) is off the frame: coordinates are fractions 0-1 "
                            f"of its width and height")
    return out


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether segments p1-p2 and q1-q2 properly cross (touching end points do not count)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def polygon_area(points: Sequence[Point]) -> float:
    """Unsigned area (shoelace)."""
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
                   for i in range(n))) / 2


def _check_simple(points: tuple[Point, ...], what: str) -> None:
    n = len(points)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if segments_cross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                raise ZoneError(f"{what}: the polygon crosses itself (edge {i + 1} and edge {j + 1}): "
                                f"list its points in order around the zone")
    if polygon_area(points) < 1e-6:
        raise ZoneError(f"{what}: the polygon has no area (its points lie on one line)")


def _number(value: object, what: str, minimum: float, maximum: float = float("inf"), integer: bool = False):
    try:
        number = int(value) if integer and float(value) == int(value) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not (minimum <= number <= maximum) \
            or (integer and not isinstance(number, int)):
        kind = "an integer" if integer else "a number"
        bound = f"from {minimum:g} to {maximum:g}" if maximum != float("inf") else f">= {minimum:g}"
        raise ZoneError(f"{what}: expected {kind} {bound}, got {value!r}")
    return number


@dataclass(frozen=True)
class NewObjects:
    """A zone that makes new objects itself: a mask that was not in the zone's background, at
    least `min_area` of the frame and seen `min_frames` frames in a row, becomes a tracked object."""

    min_area: float = 0.002  # fraction of the frame's area
    min_frames: int = 5

    def __post_init__(self) -> None:
        _number(self.min_area, "detect_new.min_area", 0.0, 1.0)
        _number(self.min_frames, "detect_new.min_frames", 1, 10_000, integer=True)


@dataclass(frozen=True)
class Zone:
    """A named polygon. `inertia`: frames in a row an object must be seen inside (or outside)
    before it counts as entered (left); `loiter_seconds`: dwell after which a `loitering` event
    comes (0 = never); `cooldown`: seconds between two outlet messages of one kind from this
    zone (0 = every event); `detect_new`: make tracked objects of new masks inside it."""

    name: str
    polygon: tuple[Point, ...]
    presence: Presence = Presence.MASK
    min_fraction: float = 0.5  # share of the mask inside (presence "mask")
    inertia: int = 3
    loiter_seconds: float = 0.0
    cooldown: float = 0.0
    detect_new: NewObjects | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "zone")
        what = f"zone {self.name!r}"
        points = _points(self.polygon, what, 3)
        _check_simple(points, what)
        object.__setattr__(self, "polygon", points)
        try:
            object.__setattr__(self, "presence", Presence(self.presence))
        except ValueError:
            raise ZoneError(f"{what}: presence: expected mask or bottom_center, got {self.presence!r}") from None
        for name, low, high, integer in (("min_fraction", 0.01, 1.0, False), ("inertia", 1, 1000, True),
                                         ("loiter_seconds", 0.0, float("inf"), False),
                                         ("cooldown", 0.0, float("inf"), False)):
            object.__setattr__(self, name, _number(getattr(self, name), f"{what}: {name}", low, high, integer))
        if isinstance(self.detect_new, dict):
            object.__setattr__(self, "detect_new", NewObjects(**self.detect_new))
        elif self.detect_new is True:
            object.__setattr__(self, "detect_new", NewObjects())
        elif self.detect_new is False:
            object.__setattr__(self, "detect_new", None)

    kind = "zone"

    def to_dict(self) -> dict:
        return {"name": self.name, "polygon": [list(p) for p in self.polygon], "presence": self.presence.value,
                "min_fraction": self.min_fraction, "inertia": self.inertia, "loiter_seconds": self.loiter_seconds,
                "cooldown": self.cooldown,
                "detect_new": None if self.detect_new is None else {"min_area": self.detect_new.min_area,
                                                                    "min_frames": self.detect_new.min_frames}}

    @classmethod
    def from_dict(cls, data: object) -> Zone:
        """The inverse of `to_dict` (validated: ZoneError names what is wrong)."""
        return _one_of(cls, data)


@dataclass(frozen=True)
class Line:
    """A named line from `start` to `end`. A crossing counts when an object's mask centroid moves
    to the other side and stays there `inertia` frames; direction "in" is from the left of the
    line (looking from start to end) to its right, "out" the other way."""

    name: str
    start: Point
    end: Point
    inertia: int = 3
    cooldown: float = 0.0

    def __post_init__(self) -> None:
        _check_name(self.name, "line")
        what = f"line {self.name!r}"
        start, end = _points((self.start, self.end), what, 2)
        if abs(start[0] - end[0]) + abs(start[1] - end[1]) < 1e-3:
            raise ZoneError(f"{what}: its two points are the same: a line needs two distinct points")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "inertia", _number(self.inertia, f"{what}: inertia", 1, 1000, integer=True))
        object.__setattr__(self, "cooldown", _number(self.cooldown, f"{what}: cooldown", 0.0))

    kind = "line"

    def to_dict(self) -> dict:
        return {"name": self.name, "line": [list(self.start), list(self.end)], "inertia": self.inertia,
                "cooldown": self.cooldown}

    @classmethod
    def from_dict(cls, data: object) -> Line:
        """The inverse of `to_dict` (validated: ZoneError names what is wrong)."""
        return _one_of(cls, data)


Region = Zone | Line
ZONE_KEYS = {"name", "polygon", "presence", "min_fraction", "inertia", "loiter_seconds", "cooldown", "detect_new"}
LINE_KEYS = {"name", "line", "inertia", "cooldown"}


def region_from_dict(data: object) -> Region:
    """A Zone from {"name", "polygon": [[x, y], ...], options} or a Line from
    {"name", "line": [[x1, y1], [x2, y2]], options}; ZoneError names what is wrong."""
    if not isinstance(data, dict):
        raise ZoneError(f"zone: expected an object with name and polygon or line, got {type(data).__name__}")
    if ("polygon" in data) == ("line" in data):
        raise ZoneError("zone: expected exactly one of polygon (a zone) or line")
    keys = LINE_KEYS if "line" in data else ZONE_KEYS
    unknown = set(data) - keys
    if unknown:
        raise ZoneError(f"zone: unknown field(s) {', '.join(sorted(unknown))}: expected {', '.join(sorted(keys))}")
    if "name" not in data:
        raise ZoneError("zone: expected a name")
    if "line" in data:
        points = _points(data["line"], f"line {data['name']!r}", 2)
        if len(points) != 2:
            raise ZoneError(f"line {data['name']!r}: expected 2 points, got {len(points)}")
        return Line(data["name"], points[0], points[1], **{k: v for k, v in data.items() if k not in ("name", "line")})
    return Zone(**data)


def _one_of(cls: type, data: object):
    region = region_from_dict(data)
    if not isinstance(region, cls):
        raise ZoneError(f"{cls.kind}: expected a {'polygon' if cls is Zone else 'line'}, got the {region.kind} "
                        f"{region.name!r}")
    return region


@dataclass(frozen=True)
class ZoneSet:
    """A camera's zones and lines; names unique across both."""

    regions: tuple[Region, ...] = field(default=())

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for region in self.regions:
            if not isinstance(region, (Zone, Line)):
                raise ZoneError(f"zones: expected Zone or Line, got {type(region).__name__}")
            if region.name in seen:
                raise ZoneError(f"{region.kind} {region.name!r}: the name is used twice: give each zone and line "
                                f"its own name")
            seen.add(region.name)
        object.__setattr__(self, "regions", tuple(self.regions))

    def __len__(self) -> int:
        return len(self.regions)

    def __iter__(self):
        return iter(self.regions)

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(r for r in self.regions if isinstance(r, Zone))

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(r for r in self.regions if isinstance(r, Line))

    def get(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)

    def put(self, region: Region) -> ZoneSet:
        """This set with `region` added, or replacing the one of its name (same place in the order)."""
        if self.get(region.name) is None:
            return ZoneSet((*self.regions, region))
        return ZoneSet(tuple(region if r.name == region.name else r for r in self.regions))

    def remove(self, name: str) -> ZoneSet:
        return ZoneSet(tuple(r for r in self.regions if r.name != name))

    def to_list(self) -> list[dict]:
        return [r.to_dict() for r in self.regions]

    @classmethod
    def from_list(cls, items: Iterable[object]) -> ZoneSet:
        return cls(tuple(region_from_dict(item) for item in items))


# ---------------------------------------------------------------- command-line spellings

OPTION_KEYS = {"loiter": "loiter_seconds", "loiter_seconds": "loiter_seconds", "inertia": "inertia",
               "cooldown": "cooldown", "min_fraction": "min_fraction", "presence": "presence",
               "detect_new": "detect_new"}


def _flag_options(text: str, flag: str, options: str, allowed: set[str]) -> dict:
    """KEY=VALUE,KEY=VALUE after the points (e.g. loiter=30,inertia=5)."""
    out: dict = {}
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, sep, value = item.partition("=")
        field_name = OPTION_KEYS.get(key.strip())
        if not sep or field_name not in allowed:
            raise ZoneError(f"{flag} {text!r}: unknown option {item!r}: expected KEY=VALUE with KEY one of "
                            f"{', '.join(sorted(k for k, v in OPTION_KEYS.items() if v in allowed))}")
        value = value.strip()
        if field_name == "detect_new":
            out[field_name] = value.lower() in ("1", "true", "yes", "on")
        elif field_name == "presence":
            out[field_name] = value
        else:
            try:
                out[field_name] = int(value) if field_name == "inertia" else float(value)
            except ValueError:
                raise ZoneError(f"{flag} {text!r}: {key.strip()} expects a number, got {value!r}") from None
    return out


def _flag_points(text: str, flag: str, example: str) -> tuple[str, list[Point], str]:
    name, sep, rest = text.partition(":")
    coords, _, options = rest.partition(":")
    if not sep or not name.strip():
        raise ZoneError(f"{flag} {text!r}: expected NAME:{example}")
    points = []
    for part in re.split(r"[;\s]+", coords.strip()):
        if not part:
            continue
        values = part.split(",")
        try:
            points.append(tuple(float(v) for v in values))
        except ValueError:
            raise ZoneError(f"{flag} {text!r}: {part!r} is not a pair of numbers; expected NAME:{example}") from None
    return name.strip(), points, options


def parse_zone(text: str) -> Zone:
    """--zone NAME:X,Y;X,Y;X,Y[;...][:OPTIONS] (fractions 0-1 of the frame; OPTIONS e.g.
    loiter=30,inertia=5,presence=bottom_center,min_fraction=0.3,cooldown=5,detect_new=1)."""
    name, points, options = _flag_points(text, "--zone", "X,Y;X,Y;X,Y (e.g. door:0.1,0.5;0.4,0.5;0.4,0.9)")
    if any(len(p) != 2 for p in points):
        raise ZoneError(f"--zone {text!r}: each point is X,Y, points separated by ';'")
    options = _flag_options(text, "--zone", options, ZONE_KEYS)
    try:
        return Zone(name, tuple(points), **options)
    except ZoneError as err:
        raise ZoneError(f"--zone {text!r}: {err}") from None


def parse_line(text: str) -> Line:
    """--line NAME:X1,Y1,X2,Y2[:OPTIONS] (fractions 0-1 of the frame; OPTIONS inertia=N,cooldown=S)."""
    name, points, options = _flag_points(text, "--line", "X1,Y1,X2,Y2 (e.g. gate:0.5,0,0.5,1)")
    flat = [v for p in points for v in p]
    if len(flat) != 4:
        raise ZoneError(f"--line {text!r}: expected NAME:X1,Y1,X2,Y2 (4 numbers), got {len(flat)}")
    options = _flag_options(text, "--line", options, LINE_KEYS)
    try:
        return Line(name, (flat[0], flat[1]), (flat[2], flat[3]), **options)
    except ZoneError as err:
        raise ZoneError(f"--line {text!r}: {err}") from None


__all__ = ["Presence", "NewObjects", "Zone", "Line", "Region", "ZoneSet", "ZoneError", "region_from_dict",
           "parse_zone", "parse_line", "polygon_area", "segments_cross"]
