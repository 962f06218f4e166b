"""Where results go, each written by its own `SinkThread` so that inference never waits on a disk:

  recorder.py  H.264 recordings: `VideoRecorder` (one file; a new file when the frame size
               changes) and `SegmentedRecorder` (files of N seconds)
  davis.py     DAVIS label PNGs, one per frame at the frame's own size
  yolo.py      YOLO segmentation labels (one .txt per frame, normalised polygons) and the frames
  coco.py      COCO results with RLE masks, streamed as JSON Lines and finished as COCO JSON
  thread.py    `SinkThread`: a bounded queue and a worker thread per sink; a failed sink fails alone
  files.py     the checks every sink makes when it is created

Every sink checks its path when it is created (a one-line `RecordingError` naming the path
and the fix, and no file left behind) and writes one-line `RecordingError`s afterwards.
`python -m fastsam_video.sinks FILE.jsonl` turns a COCO export left by a crash into COCO JSON.
"""

from .coco import CocoExporter, finalize_coco, jsonl_path, mask_annotations, rle_decode, rle_encode
from .davis import DAVIS_PALETTE, DavisExporter, read_davis_png, write_davis_png
from .recorder import SegmentedRecorder, VideoRecorder
from .thread import SinkThread
from .yolo import YoloExporter

__all__ = ["DAVIS_PALETTE", "CocoExporter", "DavisExporter", "SegmentedRecorder", "SinkThread", "VideoRecorder", "YoloExporter",
           "finalize_coco", "jsonl_path", "mask_annotations", "read_davis_png", "rle_decode", "rle_encode", "write_davis_png"]
