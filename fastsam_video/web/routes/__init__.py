"""One router per resource: health, cameras (with the MJPEG stream and snapshot), objects,
recording, events (Server-Sent Events), segment (the image page), metrics (and the config schema)."""

from . import cameras, events, health, metrics, objects, recording, segment

ROUTERS = [health.router, cameras.router, objects.router, recording.router, events.router, segment.router,
           metrics.router]
