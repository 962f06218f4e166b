"""The outlets' per-zone cooldown: repeats of one kind from one camera's zone are held back."""

from fastsam_video.analytics.cooldown import OutletCooldown
from fastsam_video.events import Event, EventKind


def event(kind, zone="door", camera=0, t=0.0, object_id=1):
    return Event(kind, camera, object_id=object_id, zone=zone, wall_time=t)


def test_cooldown_per_camera_zone_and_kind():
    gate = OutletCooldown(lambda camera, zone: 5.0 if zone == "door" else 0.0)
    entered = EventKind.ZONE_ENTERED
    assert gate.allow(event(entered, t=0.0))
    assert not gate.allow(event(entered, t=3.0, object_id=2))  # within 5 s: held back
    assert gate.allow(event(EventKind.ZONE_LEFT, t=3.0))  # another kind
    assert gate.allow(event(entered, camera=1, t=3.0))  # another camera
    assert gate.allow(event(entered, zone="gate", t=3.0)) and gate.allow(event(entered, zone="gate", t=3.1))
    assert gate.allow(event(entered, t=5.5))  # the cooldown is over
    assert gate.allow(Event(EventKind.OBJECT_LOST, 0, object_id=1, wall_time=5.6))  # not a zone event
    assert gate.held_back == 1
