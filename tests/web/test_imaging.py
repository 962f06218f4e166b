"""The image page's model use beside the cameras: one shared model, settings per request."""

from __future__ import annotations

import threading

import numpy as np

from fastsam_video.web.imaging import ImageSegmenter, Settings
from tests.web.conftest import STILL


def test_image_requests_at_other_sizes_run_beside_a_camera_on_the_same_model(segmenter):
    """The pipeline's thread and image requests share the model (torch backend: its head caches
    anchors per input shape); neither breaks the other, and the camera's settings stay its own."""
    images = ImageSegmenter(segmenter)
    image_id = images.add(STILL.read_bytes())
    frame = np.full((240, 640, 3), 90, np.uint8)
    errors: list[BaseException] = []
    done = threading.Event()

    def camera():
        try:
            while not done.is_set():
                segmenter.segment(frame)
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=camera)
    thread.start()
    try:
        for size in range(256, 1024, 64):  # each a new input shape, so the model runs each time
            answer = images.answer(image_id, "everything", Settings(imgsz=size))
            assert answer.width == 416 and not answer.cached
    finally:
        done.set()
        thread.join(60)
    assert errors == []
    assert segmenter.imgsz == 320 and segmenter.conf == 0.4
