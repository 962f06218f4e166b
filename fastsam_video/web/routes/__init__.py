"""One router per resource: health, cameras (with the MJPEG stream and snapshot), objects,
recording, events (Server-Sent Events), zones and lines, segment (the image page), metrics (and the
config schema)."""

from . import cameras, events, health, metrics, objects, recording, segment, zones

ROUTERS = [health.router, cameras.router, objects.router, recording.router, events.router, zones.router, segment.router,
           metrics.router]
