"""One router per resource: health, cameras (with the MJPEG stream and snapshot), objects,
recording, events (Server-Sent Events), review (the event history), zones and lines, segment (the image
page), metrics (and the config schema), playback (a file camera's pause, step and seek)."""

from . import cameras, events, health, metrics, objects, playback, recording, review, segment, zones

ROUTERS = [health.router, cameras.router, objects.router, recording.router, events.router, review.router,
           zones.router, segment.router, metrics.router, playback.router]
