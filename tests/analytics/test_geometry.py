"""Zones and lines: validation with one-line messages, and the dict round trip (config, state)."""

from __future__ import annotations

import pytest

from fastsam_video.analytics import Line, Zone, ZoneError, ZoneSet, parse_line, parse_zone, region_from_dict
from fastsam_video.analytics.geometry import NewObjects, Presence


def test_dict_round_trip_keeps_every_option():
    zones = ZoneSet((Zone("door", ((0.1, 0.5), (0.4, 0.5), (0.4, 0.9)), presence=Presence.BOTTOM_CENTER,
                          min_fraction=0.3, inertia=5, loiter_seconds=30, cooldown=5,
                          detect_new=NewObjects(0.01, 7)),
                     Line("gate", (0.5, 0.0), (0.5, 1.0), inertia=2, cooldown=1)))
    assert ZoneSet.from_list(zones.to_list()) == zones
    zone, line = zones
    assert Zone.from_dict(zone.to_dict()) == zone and Line.from_dict(line.to_dict()) == line
    with pytest.raises(ZoneError, match="expected a polygon"):
        Zone.from_dict(line.to_dict())


def test_flags_with_options():
    zone = parse_zone("door:0.1,0.5;0.4,0.5;0.4,0.9:loiter=30,inertia=5,presence=bottom_center,detect_new=1")
    assert (zone.loiter_seconds, zone.inertia, zone.presence, zone.detect_new) == (30, 5, Presence.BOTTOM_CENTER,
                                                                                   NewObjects())
    assert parse_line("gate:0.5,0,0.5,1:inertia=2") == Line("gate", (0.5, 0), (0.5, 1), inertia=2)


@pytest.mark.parametrize("data, expected", [
    ({"name": "a", "polygon": [[0, 0], [1, 0]]}, "at least 3 points"),
    ({"name": "a", "polygon": [[0, 0], [1, 0], [1, -0.1]]}, "off the frame"),
    ({"name": "a", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}, "crosses itself"),
    ({"name": "a", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}, "no area"),
    ({"name": "a", "line": [[0, 0], [0, 0]]}, "the same"),
    ({"name": "a", "line": [[0, 0], [1, 1]], "loiter_seconds": 3}, "unknown field"),
    ({"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]], "inertia": 0}, "inertia: expected an integer"),
    ({"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]], "presence": "feet"}, "presence: expected mask"),
    ({"name": "", "polygon": [[0, 0], [1, 0], [1, 1]]}, "name"),
    ({"polygon": [[0, 0], [1, 0], [1, 1]], "line": [[0, 0], [1, 1]], "name": "a"}, "exactly one of"),
    ([1, 2], "expected an object"),
])
def test_bad_definitions_say_what_is_wrong(data, expected):
    with pytest.raises(ZoneError, match=expected) as err:
        region_from_dict(data)
    assert "\n" not in str(err.value)


def test_names_are_unique_across_zones_and_lines():
    zone = Zone("a", ((0, 0), (1, 0), (1, 1)))
    with pytest.raises(ZoneError, match="used twice"):
        ZoneSet((zone, Line("a", (0, 0), (1, 1))))
    zones = ZoneSet((zone,)).put(Line("b", (0, 0), (1, 1)))
    assert [r.name for r in zones.put(Zone("a", ((0, 0), (1, 0), (0, 1))))] == ["a", "b"]
    assert [r.name for r in zones.remove("a")] == ["b"]
