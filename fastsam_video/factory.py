"""The one place a pipeline is built: sources opened, the model loaded, outputs opened.

    pipeline = build_pipeline(["rtsp://cam/1", "clip.mp4"], ModelOptions(), StreamOptions(),
                              OutputOptions(record="out.mp4"), prompts)

The CLI, the window and the web server all call `build_pipeline`. If any step fails, what was
already opened (sources, recorders, exporters) is closed before the error propagates, so a bad
path or a broken checkpoint never leaves a thread behind.
"""

from __future__ import annotations

from typing import Callable, Sequence

from .analytics.geometry import ZoneSet
from .clip_loader import ClipLoader
from .engines import open_engine
from .options import ModelOptions, OutputOptions, StreamOptions
from .outputs import check_outputs
from .pipeline import Pipeline, Result
from .schedule import ScheduleOptions
from .sources import FrameSource, open_source
from .tracker import PromptSet, TrackerConfig


def open_camera(spec: str, stream: StreamOptions, camera: int = 0) -> FrameSource:
    """Opens one source (a file, folder, webcam or network URL) with the stream options."""
    return open_source(spec, realtime=stream.realtime, fps=stream.fps, rtsp_transport=stream.rtsp_transport,
                       open_timeout=stream.open_timeout, read_timeout=stream.read_timeout,
                       reconnect=None if stream.reconnect else False, source_id=camera)


def build_pipeline(sources: str | FrameSource | Sequence[str | FrameSource], model: ModelOptions,
                   stream: StreamOptions, output: OutputOptions, prompts: PromptSet | None = None, *,
                   on_result: Callable[[Result], None] | None = None, segmenter=None,
                   stay_open: bool = False, zones: ZoneSet | None = None,
                   text_encoder: ClipLoader | None = None) -> Pipeline:
    """A pipeline (not started) on `sources` (specs are opened here; opened sources are taken
    over). `segmenter`: an already loaded model to share (else `model` is loaded). `prompts`:
    None for everything mode; `zones`: every camera's zones and lines. `text_encoder`: the CLIP
    loader to share (else one loading at the first text prompt). On failure everything opened here, and the given sources, are
    closed and the error is raised."""
    items = [sources] if isinstance(sources, (str, FrameSource)) else list(sources)
    opened: list[FrameSource] = [item for item in items if isinstance(item, FrameSource)]
    try:
        cameras = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                item = open_camera(item, stream, index)
                opened.append(item)
            cameras.append(item)
        check_outputs(output.record, output.export_masks, output.export_coco, len(cameras),
                      segmented=bool(output.segment_seconds))  # a bad path fails now, not after the model has loaded
        if segmenter is None:
            segmenter = open_engine(model)
        text_encoder = text_encoder or text_encoder_loader(model.clip_model, segmenter.device)
        if prompts is not None and any(p.text for p in prompts.objects):
            text_encoder.load()  # missing CLIP weights fail now, not on the results thread mid-run
        return Pipeline(cameras, segmenter, prompts if prompts is not None else PromptSet(everything=True),
                        record=output.record, export_masks=output.export_masks, export_coco=output.export_coco,
                        export_yolo=output.export_yolo, export_every=output.export_every,
                        segment_seconds=output.segment_seconds, hud=output.hud, max_frames=stream.max_frames,
                        queue_size=stream.queue_size, tracker_config=TrackerConfig(max_lost_seconds=stream.max_lost),
                        text_encoder=text_encoder, on_result=on_result, stay_open=stay_open, zones=zones,
                        schedule=ScheduleOptions(stream.detect_every, stream.skip_still))
    except BaseException:
        for source in opened:
            source.close()
        raise


def text_encoder_loader(clip_model: str, device) -> ClipLoader:
    """Loads CLIP at the first text prompt only (seconds, and weights that may be missing)."""
    def load():
        from .prompts import ClipEncoder

        return ClipEncoder(clip_model, device=device)
    return ClipLoader(load)


__all__ = ["build_pipeline", "open_camera", "text_encoder_loader"]
