"""Zones and lines: where tracked objects are, as events (entered, left, crossed, loitering)
and counts (objects inside, the share of a zone covered by masks). No front end here: the
pipeline feeds `ZoneAnalyser` each frame's tracked masks; the CLI, the web app and the window
read the events and counts.

`geometry` (pure Python: parsed and checked before any library loads), `analyser` (numpy,
OpenCV), `new_objects` (zones that find objects with no prompt), `cooldown` (outlets)."""

from .geometry import (Line, NewObjects, Presence, Region, Zone, ZoneError, ZoneSet, parse_line, parse_zone,
                       region_from_dict)

__all__ = ["Line", "NewObjects", "Presence", "Region", "Zone", "ZoneError", "ZoneSet", "parse_line", "parse_zone",
           "region_from_dict"]
