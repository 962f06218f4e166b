"""One router per resource: health, cameras (with the MJPEG stream and snapshot), objects,
recording, events (Server-Sent Events), zones and lines, segment (the image page)."""

from . import cameras, events, health, objects, recording, segment, zones

ROUTERS = [health.router, cameras.router, objects.router, recording.router, events.router, zones.router, segment.router]
