"""A text prompt given while a pipeline runs (the window's case) loads CLIP on a thread of its own:
the cameras go on meanwhile, the prompt applies once CLIP is there, and a CLIP that cannot load
rejects the prompt with its reason."""

from __future__ import annotations

import time

import pytest

from fastsam_video.clip_loader import ClipLoader
from fastsam_video.errors import WeightsError
from fastsam_video.events import EventKind
from fastsam_video.pipeline import Pipeline
from fastsam_video.sources import LoopingSource
from fastsam_video.tracker import ObjectPrompt, PromptSet
from tests.web.conftest import still_clip, tiny_text_encoder, wait_for


def run_with(segmenter, tmp_path, factory):
    loader = ClipLoader(factory)
    pipeline = Pipeline(LoopingSource(still_clip(tmp_path)), segmenter, PromptSet(everything=True),
                        text_encoder=loader, queue_size=2)
    events = []
    pipeline.subscribe(events.append)
    return pipeline.start(), events


@pytest.mark.slow
def test_the_cameras_go_on_while_clip_loads_and_the_prompt_applies_after(segmenter, tmp_path):
    def slow():
        time.sleep(3.0)
        return tiny_text_encoder()

    pipeline, events = run_with(segmenter, tmp_path, slow)
    try:
        wait_for(lambda: pipeline.stats.frames > 3, 30, "frames")
        pipeline.set_prompts(PromptSet((ObjectPrompt(1, text="a purple disc"),)))
        before = pipeline.stats.frames
        time.sleep(2.0)  # CLIP still loading
        assert pipeline.stats.frames - before >= 5, "the camera waited for CLIP"
        added = wait_for(lambda: next((e for e in events if e.object_id == 1 and e.kind in (
            EventKind.OBJECT_ADDED, EventKind.OBJECT_NOT_FOUND)), None), 30, "the text prompt applied")
        assert added.kind is EventKind.OBJECT_ADDED
    finally:
        pipeline.close()


def test_a_clip_that_cannot_load_rejects_the_prompt_with_its_reason(segmenter, tmp_path):
    def missing():
        raise WeightsError("CLIP weights ViT-B-32.pt are not in weights/ and could not be downloaded")

    pipeline, events = run_with(segmenter, tmp_path, missing)
    try:
        wait_for(lambda: pipeline.stats.frames > 3, 30, "frames")
        pipeline.set_prompts(PromptSet((ObjectPrompt(1, text="a dog"),)))
        rejected = wait_for(lambda: next((e for e in events if e.kind is EventKind.OBJECT_REJECTED), None), 30,
                            "the prompt rejected")
        assert "ViT-B-32.pt" in rejected.detail
        frames = pipeline.stats.frames
        wait_for(lambda: pipeline.stats.frames > frames + 3, 10, "the camera going on")
    finally:
        pipeline.close()
