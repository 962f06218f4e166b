"""The seconds of recording around an event, as one MP4, cut from the recording segments.

Packets are copied (PyAV remux, no decoding) from the last keyframe at or before the start
(the recorder makes one every second) to the end, across as many segments as the span
touches, their times laid on one timeline by the segments' wall-clock starts. When the
keyframes do not allow it (none within `MAX_KEY_LEAD` before the start) or the segments differ
(another frame size or encoder set-up), the frames are decoded and encoded again. A segment
still being written is read up to its last complete fragment. The MP4 has its index first
(`+faststart`), so a browser plays it as it loads.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from .store import Segment

log = logging.getLogger(__name__)

MAX_KEY_LEAD = 2.0  # seconds a remuxed clip may start before the asked start (at a keyframe)


class ClipError(LookupError):
    """No recording holds the span asked for: its message says why (404)."""


@dataclass(frozen=True)
class Clip:
    data: bytes  # the MP4
    start_wall: float  # wall time of its first frame
    duration: float  # seconds
    frames: int
    remuxed: bool  # packets copied (True) or frames encoded again

    def offset_of(self, wall: float) -> float:
        """Seconds into the clip of wall time `wall`."""
        return max(0.0, wall - self.start_wall)


@dataclass
class _Span:
    segment: Segment
    stream: av.video.stream.VideoStream  # of an open container (closed by cut_clip)
    stream_info: tuple  # (width, height, extradata): what remuxing needs to be equal
    time_base: Fraction
    packets: list  # av.Packet, from a keyframe on
    key_lead: float  # seconds from the first packet (a keyframe) to the asked start


def _read_span(segment: Segment, start: float, end: float, files: ExitStack) -> _Span | None:
    """The packets of `segment` from the last keyframe at or before wall time `start` to `end`."""
    try:
        container = files.enter_context(av.open(segment.path))
    except (av.error.FFmpegError, OSError) as err:
        log.warning("clip: cannot open %s: %s", segment.path, err)
        return None
    if not container.streams.video:
        return None
    stream = container.streams.video[0]
    tb = stream.time_base
    t_start, t_end = start - segment.start_wall, end - segment.start_wall
    packets: list = []
    if t_start > 0:  # to the keyframe at or before the start: no reading from the top of a 10-min file
        try:
            container.seek(int(t_start / tb), stream=stream, backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError) as err:
            log.debug("clip: %s read from its start (seek failed: %s)", segment.path, err)
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            t = float(packet.pts * tb)
            if t > t_end:
                break
            if packet.is_keyframe and t <= t_start:
                packets = []  # a later keyframe still before the start: begin there
            if packets or packet.is_keyframe:
                packets.append(packet)
    except (av.error.FFmpegError, EOFError) as err:  # a file still being written ends mid-fragment
        log.debug("clip: %s read up to its last fragment (%s)", segment.path, err)
    if not packets or float(packets[-1].pts * tb) < t_start:  # nothing of the span (a file cut short by a kill)
        return None
    ctx = stream.codec_context
    first = float(packets[0].pts * tb)
    return _Span(segment, stream, (ctx.width, ctx.height, bytes(ctx.extradata or b"")), tb, packets,
                 max(0.0, t_start - first))


def _wall(span: _Span, packet) -> float:
    return span.segment.start_wall + float(packet.pts * span.time_base)


def cut_clip(segments: list[Segment], start: float, end: float) -> Clip:
    """An MP4 of wall times [start, end] from `segments` (oldest first, as `EventStore.segments`)."""
    with ExitStack() as files:
        spans = []
        for k, segment in enumerate(segments):
            stop = min(end, segments[k + 1].start_wall) if k + 1 < len(segments) else end
            span = _read_span(segment, start if not spans else segment.start_wall, stop, files)
            if span is not None:
                spans.append(span)
        if not spans:
            raise ClipError("no recording holds this event's time (not recorded, or its segment was deleted)")
        same = all(s.stream_info == spans[0].stream_info for s in spans)
        fd, name = tempfile.mkstemp(suffix=".mp4", prefix="fastsam-clip-")
        os.close(fd)
        try:
            if same and spans[0].key_lead <= MAX_KEY_LEAD:
                return _remux(spans, Path(name))
            return _reencode(spans, start, Path(name))
        finally:
            os.unlink(name)


def _remux(spans: list[_Span], path: Path) -> Clip:
    base = _wall(spans[0], spans[0].packets[0])
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        ostream = out.add_stream_from_template(spans[0].stream)
        last_dts, frames, last_wall = None, 0, base
        for span in spans:
            shift = round((span.segment.start_wall - base) / span.time_base)
            for packet in span.packets:
                dts = (packet.dts if packet.dts is not None else packet.pts) + shift
                pts = packet.pts + shift
                if last_dts is not None and dts <= last_dts:  # two segments must never overlap in time
                    pts += last_dts + 1 - dts
                    dts = last_dts + 1
                packet.pts, packet.dts, packet.stream = pts, dts, ostream
                out.mux(packet)
                last_dts, frames, last_wall = dts, frames + 1, base + float(pts * span.time_base)
    return Clip(path.read_bytes(), base, last_wall - base, frames, True)


def _reencode(spans: list[_Span], start: float, path: Path) -> Clip:
    width, height = spans[0].stream_info[:2]
    tb = Fraction(1, 90000)
    frames, base, last = 0, None, -1
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        ostream = out.add_stream("libx264", rate=30)
        ostream.width, ostream.height, ostream.pix_fmt = width, height, "yuv420p"
        ostream.time_base = ostream.codec_context.time_base = tb
        ostream.options = {"preset": "veryfast", "crf": "23", "bf": "0"}
        for span in spans:
            decoder = span.stream.codec_context
            for packet in span.packets:
                for frame in decoder.decode(packet):
                    wall = span.segment.start_wall + float(frame.pts * span.time_base)
                    if wall < start - 1e-3:  # before the asked start: decoded only to reach it
                        continue
                    base = wall if base is None else base
                    pts = max(round((wall - base) / tb), last + 1)
                    image = frame.reformat(width, height, format="yuv420p")
                    image.pts, image.time_base, last = pts, tb, pts
                    for encoded in ostream.encode(image):
                        out.mux(encoded)
                    frames += 1
        for encoded in ostream.encode(None):
            out.mux(encoded)
    if base is None:
        raise ClipError("no frame of the recording falls in this event's span")
    return Clip(path.read_bytes(), base, float(last * tb), frames, False)
