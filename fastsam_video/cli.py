"""Command line: fastsam-video image | run | demo | eval | bench | gui.

Errors the user can fix print one line and exit with status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("YOLO_VERBOSE", "False")  # ultralytics prints model summaries otherwise

from .prompts import PointPrompt  # noqa: E402
from .types import FastSAMVideoError, PromptError  # noqa: E402
from .ui import add_gui_parser, run_window  # noqa: E402  (Qt itself loads only when the window opens)

log = logging.getLogger("fastsam_video")


# ---------------------------------------------------------------- argument parsing helpers

def parse_bool(value: str | bool) -> bool:
    """FastSAM declared some booleans as str, so "False" meant true; here it means false."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f", "none", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _numbers(text: str, count: int, what: str, example: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise PromptError(f"{what} {text!r}: expected {count} comma-separated numbers, e.g. {example}")
    return values


def parse_point(text: str) -> tuple[float, float, int]:
    """X,Y (foreground) or X,Y:neg / X,Y:0 (background)."""
    coords, _, tag = text.partition(":")
    x, y = _numbers(coords, 2, "--point", "--point 120,80 or --point 120,80:neg")
    if tag.lower() in ("", "pos", "fg", "1", "+"):
        return x, y, 1
    if tag.lower() in ("neg", "bg", "0", "-"):
        return x, y, 0
    raise PromptError(f"--point {text!r}: the label after ':' must be neg (background) or pos, e.g. 120,80:neg")


def parse_box(text: str) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = _numbers(text, 4, "--box", "--box 10,20,200,180 (X1,Y1,X2,Y2)")
    if not (x2 > x1 and y2 > y1):
        raise PromptError(f"--box {text!r}: expected X1,Y1,X2,Y2 with X1 < X2 and Y1 < Y2")
    return x1, y1, x2, y2


def parse_nested_list(text: str, inner: int, flag: str, example: str) -> list[list[float]]:
    """FastSAM's list literals: "[[x,y,w,h]]", "[[x,y],[x,y]]"."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
        value = [value]  # a single [x, y] is accepted too
    if (not isinstance(value, (list, tuple)) or
            not all(isinstance(v, (list, tuple)) and len(v) == inner and
                    all(isinstance(n, (int, float)) for n in v) for v in value)):
        raise PromptError(f"{flag} {text!r}: expected a list of {inner}-number lists, e.g. {flag} \"{example}\"")
    return [list(map(float, v)) for v in value]


def parse_labels(text: str) -> list[int]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(v in (0, 1) for v in value):
        raise PromptError(f"--point_label {text!r}: expected a list of 1 (foreground) / 0 (background), e.g. \"[1,0]\"")
    return list(value)


def as_argument(parse):
    """An argparse `type=` from a parser raising PromptError, so argparse prints our message."""
    def convert(text: str):
        try:
            return parse(text)
        except PromptError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", "--model_path", dest="model", default=None,
                       help="checkpoint: a path, FastSAM-s.pt, FastSAM-x.pt (default: the bundled model)")
    group.add_argument("--device", default=None, help="cuda, cuda:N, mps or cpu (default: best available)")
    group.add_argument("--fp32", action="store_true", help="full precision on CUDA (default there: FP16)")
    group.add_argument("--imgsz", type=int, default=None, help="inference size (default: the model's)")
    group.add_argument("--conf", type=float, default=None, help="score threshold (default: the model's)")
    group.add_argument("--iou", type=float, default=None, help="NMS IoU threshold (default: the model's)")
    group.add_argument("--max-det", type=int, default=300)
    group.add_argument("--retina", type=parse_bool, nargs="?", const=True, default=True,
                       help="full-resolution mask edges (default true)")
    group.add_argument("--backend", choices=("torch", "onnx", "auto"), default="auto",
                       help="forward pass: torch, onnx (ONNX Runtime on the CPU, exported once and cached), "
                            "auto (default: onnx on the CPU when installed, else torch)")


def make_segmenter(args):
    from .engine import Segmenter

    return Segmenter(args.model, device=args.device, half=False if args.fp32 else None, imgsz=args.imgsz,
                     conf=args.conf, iou=args.iou, max_det=args.max_det, retina=args.retina,
                     backend=getattr(args, "backend", "auto"))


# ---------------------------------------------------------------- image

def image_prompts(args) -> tuple[str, dict]:
    """Which prompt to apply, with FastSAM's priority: box, then text, then points, else everything."""
    boxes = [list(b) for b in args.box]
    if args.box_prompt:
        for x, y, w, h in parse_nested_list(args.box_prompt, 4, "--box_prompt", "[[x,y,w,h]]"):
            if w > 0 and h > 0:  # FastSAM's default [[0,0,0,0]] means "no box"
                boxes.append([x, y, x + w, y + h])
    if boxes:
        return "box", {"boxes": boxes}
    text = args.text or args.text_prompt
    if text:
        return "text", {"text": text}
    points = [(x, y) for x, y, _ in args.point]
    labels = [label for _, _, label in args.point]
    if args.point_prompt:
        fastsam_points = parse_nested_list(args.point_prompt, 2, "--point_prompt", "[[x,y],[x,y]]")
        fastsam_labels = parse_labels(args.point_label) if args.point_label else [1] * len(fastsam_points)
        if fastsam_points != [[0.0, 0.0]]:  # FastSAM's default means "no point"
            if len(fastsam_labels) != len(fastsam_points):
                raise PromptError(f"--point_prompt has {len(fastsam_points)} points but --point_label has "
                                  f"{len(fastsam_labels)} labels: give one label per point")
            points += [tuple(p) for p in fastsam_points]
            labels += fastsam_labels
    if points:
        PointPrompt(tuple(points), tuple(labels))  # validates labels
        return "points", {"points": points, "labels": labels}
    return "everything", {}


def cmd_image(args) -> int:
    import cv2
    import torch

    from .api import read_image
    from .prompts import ClipEncoder, select_by_boxes, select_by_points, select_by_text
    from .render import Annotator, Markers

    path = args.path or args.img_path
    if not path:
        raise FastSAMVideoError("no image given: fastsam-video image PATH (or --img_path PATH)")
    image = read_image(path)
    mode, prompt = image_prompts(args)  # parse prompts before loading anything
    segmenter = make_segmenter(args)
    started = time.perf_counter()
    seg = segmenter.segment(image)
    markers = Markers()
    if mode == "box":
        seg = select_by_boxes(seg, prompt["boxes"])
        markers = Markers(boxes=[tuple(b) for b in prompt["boxes"]])
    elif mode == "text":
        encoder = ClipEncoder(args.clip_model, device=segmenter.device)
        seg = select_by_text(seg, torch.from_numpy(image).to(segmenter.device), prompt["text"], encoder)
    elif mode == "points":
        seg = select_by_points(seg, prompt["points"], prompt["labels"])
        markers = Markers(points=[(x, y, l) for (x, y), l in zip(prompt["points"], prompt["labels"])])
    elapsed = (time.perf_counter() - started) * 1e3
    annotator = Annotator(contours=args.withContours, better_quality=args.better_quality, labels=mode == "everything")
    out = annotator.annotate(image, seg, markers)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{Path(path).stem}.png"
    if target.resolve() == Path(path).resolve():
        target = folder / f"{Path(path).stem}_segmented.png"
    if not cv2.imwrite(str(target), out):
        raise FastSAMVideoError(f"cannot write {target}: check that {folder} is a writable folder")
    found = "nothing found" if len(seg) == 0 else f"{len(seg)} mask{'s' * (len(seg) != 1)}"
    print(f"{mode}: {found} in {elapsed:.0f} ms ({segmenter.device}, {segmenter.precision}) -> {target}")
    return 0


def add_image_parser(sub) -> None:
    p = sub.add_parser("image", help="segment one image (FastSAM's Inference.py flags work too)",
                       description="Segment an image and write the overlay PNG. FastSAM's Inference.py flags "
                                   "are accepted unchanged; prompts' priority: box, text, points, everything.")
    p.add_argument("path", nargs="?", help="image file")
    p.add_argument("--img_path", help=argparse.SUPPRESS)
    add_model_options(p)
    p.add_argument("--output", default="./output/", help="folder for the overlay PNG (default ./output/)")
    p.add_argument("--point", type=as_argument(parse_point), action="append", default=[], metavar="X,Y[:neg]",
                   help="a point; repeat for several (one merged selection, FastSAM's semantics)")
    p.add_argument("--box", type=as_argument(parse_box), action="append", default=[], metavar="X1,Y1,X2,Y2",
                   help="a box; repeat for several")
    p.add_argument("--text", default=None, help="a text prompt (CLIP)")
    p.add_argument("--clip-model", default="ViT-B/32", help="CLIP model name or .pt file")
    fastsam = p.add_argument_group("FastSAM Inference.py flags")
    fastsam.add_argument("--text_prompt", default=None)
    fastsam.add_argument("--box_prompt", default=None, help='xywh boxes, e.g. "[[x,y,w,h]]"')
    fastsam.add_argument("--point_prompt", default=None, help='"[[x,y],[x,y]]"')
    fastsam.add_argument("--point_label", default=None, help='"[1,0]": 1 foreground, 0 background')
    fastsam.add_argument("--better_quality", type=parse_bool, nargs="?", const=True, default=False)
    fastsam.add_argument("--withContours", type=parse_bool, nargs="?", const=True, default=False)
    fastsam.add_argument("--randomcolor", type=parse_bool, nargs="?", const=True, default=True,
                         help="accepted for compatibility; colours are stable per object")
    p.set_defaults(func=cmd_image)


# ---------------------------------------------------------------- run / demo

class OrderedPrompt(argparse.Action):
    """Collects prompt flags in command-line order, so object ids follow the order given."""

    def __call__(self, parser, namespace, values, option_string=None):
        ordered = list(getattr(namespace, "ordered_prompts", None) or [])
        ordered.append((self.dest, values))
        namespace.ordered_prompts = ordered


def parse_point_set(text: str) -> list[tuple[float, float, int]]:
    """X,Y;X,Y:neg - one object's point set in one flag."""
    points = [parse_point(part) for part in text.split(";") if part.strip()]
    if not points:
        raise PromptError(f"--object-points {text!r}: expected X,Y;X,Y:neg (points separated by ';')")
    return points


def object_prompts(ordered: list[tuple[str, object]]):
    """ObjectPrompts with ids 1, 2, ... in the order given. All --point flags together form one
    object (FastSAM's semantics), placed where the first --point stands; each --object-points,
    --box and --text is an object of its own."""
    from .tracker import ObjectPrompt

    entries: list[tuple[str, object]] = []
    loose_points: list[tuple[float, float, int]] = []
    for kind, value in ordered:
        if kind == "point":
            if not loose_points:
                entries.append(("points", loose_points))
            loose_points.append(value)
        elif kind == "object_points":
            entries.append(("points", value))
        else:
            entries.append((kind, value))
    prompts = []
    for object_id, (kind, value) in enumerate(entries, start=1):
        if kind == "points":
            prompts.append(ObjectPrompt(object_id, points=tuple((x, y) for x, y, _ in value),
                                        labels=tuple(l for _, _, l in value)))
        elif kind == "box":
            prompts.append(ObjectPrompt(object_id, box=value))
        else:
            prompts.append(ObjectPrompt(object_id, text=value))
    return prompts


def add_stream_options(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    prompts = p.add_argument_group("prompts (each starts a tracked object; none = everything mode)")
    prompts.add_argument("--point", type=as_argument(parse_point), action=OrderedPrompt, metavar="X,Y[:neg]",
                         help="a point; all --point flags together select one object")
    prompts.add_argument("--object-points", type=as_argument(parse_point_set), action=OrderedPrompt,
                         metavar="X,Y;X,Y:neg", help="one more point-prompted object per flag")
    prompts.add_argument("--box", type=as_argument(parse_box), action=OrderedPrompt, metavar="X1,Y1,X2,Y2")
    prompts.add_argument("--text", action=OrderedPrompt, help="a text prompt (CLIP)")
    prompts.add_argument("--everything", action="store_true",
                         help="also show every mask (faintly) besides the tracked objects")
    prompts.add_argument("--clip-model", default="ViT-B/32", help="CLIP model name or .pt file")
    prompts.add_argument("--max-lost", type=float, default=10.0, metavar="SECONDS",
                         help="how long a lost object is searched for (default 10)")
    out = p.add_argument_group("output")
    out.add_argument("--record", metavar="OUT.mp4", help="record the annotated video (H.264, fragmented MP4)")
    out.add_argument("--export-masks", metavar="DIR", help="per-frame masks as DAVIS PNGs (pixel = object id)")
    out.add_argument("--export-coco", metavar="FILE", help="COCO-style JSON with RLE masks")
    out.add_argument("--segment-seconds", type=float, default=None, metavar="N",
                     help="roll the recording to a new file every N seconds (OUT-<time>.mp4; long monitoring runs)")
    out.add_argument("--hud", action="store_true", help="draw FPS and latency on the recorded frames")
    out.add_argument("--no-window", action="store_true", help="run headless even when a display is available")
    src = p.add_argument_group("source")
    src.add_argument("--max-frames", type=int, default=None)
    src.add_argument("--realtime", action="store_true",
                     help="pace a file at its frame rate and drop frames like a live camera")
    src.add_argument("--rtsp-transport", choices=("tcp", "udp"), default="tcp",
                     help="tcp (default, reliable) or udp (lower latency, may lose packets)")
    src.add_argument("--no-reconnect", action="store_true",
                     help="fail at once when a network camera is down instead of retrying with backoff")
    src.add_argument("--open-timeout", type=float, default=5.0, metavar="SECONDS")
    src.add_argument("--read-timeout", type=float, default=5.0, metavar="SECONDS")
    p.set_defaults(ordered_prompts=[])


def build_pipeline(args, source_spec: str | list[str], prompts_list=None, on_result=None):
    from .pipeline import Pipeline
    from .prompts import ClipEncoder
    from .sources import open_source
    from .tracker import PromptSet, TrackerConfig

    prompts_list = object_prompts(args.ordered_prompts) if prompts_list is None else prompts_list
    specs = [source_spec] if isinstance(source_spec, str) else list(source_spec)
    sources = []
    try:
        for index, spec in enumerate(specs):
            sources.append(open_source(spec, realtime=args.realtime, rtsp_transport=args.rtsp_transport,
                                       open_timeout=args.open_timeout, read_timeout=args.read_timeout,
                                       reconnect=False if args.no_reconnect else None, source_id=index))
        segmenter = make_segmenter(args)
        prompts = PromptSet(tuple(prompts_list), everything=args.everything or not prompts_list)
        return Pipeline(sources, segmenter, prompts, record=args.record, export_masks=args.export_masks,
                        export_coco=args.export_coco, max_frames=args.max_frames,
                        tracker_config=TrackerConfig(max_lost_seconds=args.max_lost),
                        text_encoder=lambda: ClipEncoder(args.clip_model, device=segmenter.device),
                        on_result=on_result, hud=args.hud, segment_seconds=args.segment_seconds)
    except BaseException:
        for source in sources:
            source.close()
        raise


def run_headless(pipeline, log_every: float = 5.0) -> int:
    """Runs until the source ends or Ctrl-C; a progress line for files, periodic stats for live."""
    total = pipeline.source.frame_count
    if pipeline.max_frames:
        total = min(total, pipeline.max_frames) if total else pipeline.max_frames
    tty = sys.stderr.isatty()
    started = last_log = time.monotonic()
    with pipeline:
        try:
            while not pipeline.wait(0.5):
                now = time.monotonic()
                snap = pipeline.snapshot()
                if total and not pipeline.source.live:
                    fps = snap.frames / max(now - started, 1e-9)
                    eta = (total - snap.frames) / fps if fps > 0 else float("inf")
                    line = f"{snap.frames}/{total} frames  {fps:.1f} fps  eta {eta:.0f} s"
                    if tty:
                        print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
                    elif now - last_log >= log_every:
                        log.info(line)
                        last_log = now
                elif now - last_log >= log_every:
                    for index, channel in enumerate(pipeline.channels):
                        prefix = f"camera {index + 1} ({channel.source.name}): " if len(pipeline.channels) > 1 else ""
                        log.info("%s%s", prefix, pipeline.snapshot(index).line())
                    last_log = now
        except KeyboardInterrupt:
            print("\nstopping: finishing the recording...", file=sys.stderr)
        if tty and total:
            print(file=sys.stderr)
    snap = pipeline.snapshot()
    elapsed = time.monotonic() - started
    log.info("done: %d frames in %.1f s (%.1f fps), latency p50 %.0f ms p99 %.0f ms, dropped %d",
             snap.frames, elapsed, snap.frames / max(elapsed, 1e-9), snap.latency_p50 * 1e3,
             snap.latency_p99 * 1e3, snap.dropped)
    for channel in pipeline.channels:
        for path in channel.recorded:
            if path.exists():
                log.info("recording: %s", path)
    return 0


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_run(args) -> int:
    return run_headless(build_pipeline(args, args.sources))


def add_run_parser(sub) -> None:
    p = sub.add_parser("run", help="segment and track a video, camera or stream",
                       description="Run the pipeline on SOURCE: a video file, an image folder or glob, "
                                   "a webcam (0 or webcam:0), or an rtsp:// / http:// URL. Several SOURCEs run "
                                   "together (one batched model call; per-camera trackers, recordings "
                                   "NAME-camN.mp4 and stats); prompts apply to each camera.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    add_stream_options(p)
    p.set_defaults(func=cmd_run)


SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DEMO_CLIP = SAMPLES / "clips" / "crossing"


def cmd_demo(args) -> int:
    """The bundled model on the bundled clip, with its first-frame prompts tracked."""
    import json

    from .tracker import ObjectPrompt

    if not (DEMO_CLIP / "video.mp4").exists():
        raise FastSAMVideoError(f"the bundled clip is missing ({DEMO_CLIP}): restore samples/ with `git checkout samples/`")
    spec = json.loads((DEMO_CLIP / "prompts.json").read_text())
    prompts = [ObjectPrompt(o["id"], points=(tuple(o["point"]),), labels=(1,)) for o in spec["objects"]]
    args.everything = True
    if not args.record:
        args.record = str(Path(args.output) / "demo.mp4")
    if has_display() and not args.no_window:
        args.ordered_prompts = [("object_points", [(*o["point"], 1)]) for o in spec["objects"]]
        return run_window(args, str(DEMO_CLIP / "video.mp4"))
    pipeline = build_pipeline(args, str(DEMO_CLIP / "video.mp4"), prompts)
    print(f"demo: {len(prompts)} objects tracked on {DEMO_CLIP.name} ({spec['description']})")
    code = run_headless(pipeline)
    print(f"annotated video written to {args.record}")
    return code


def add_demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the bundled model on the bundled clip (no download needed)")
    add_stream_options(p)
    p.add_argument("--output", default="output", help="folder for demo.mp4 (default ./output)")
    p.set_defaults(func=cmd_demo)


# ---------------------------------------------------------------- eval

def clip_folders(paths: list[Path]) -> list[Path]:
    """Clip folders (with Annotations/) from the given paths; a folder of clips expands."""
    folders = []
    for path in paths:
        if (path / "Annotations").is_dir():
            folders.append(path)
        elif path.is_dir():
            folders += sorted(p for p in path.iterdir() if (p / "Annotations").is_dir())
    if not folders:
        raise FastSAMVideoError(f"no clip found in {', '.join(map(str, paths))}: a clip folder holds a video "
                                "and Annotations/ with DAVIS PNGs (see samples/clips/)")
    return folders


def cmd_eval(args) -> int:
    from .evaluate import evaluate_clip, format_scores
    from .tracker import TrackerConfig

    folders = clip_folders([Path(p) for p in args.clips] or [SAMPLES / "clips"])
    segmenter = make_segmenter(args)
    config = TrackerConfig(max_lost_seconds=args.max_lost)
    scores = [evaluate_clip(folder, lambda image, index: segmenter.segment(image), segmenter.device,
                            args.prompt, config) for folder in folders]
    print(f"{segmenter!r}, first-frame {args.prompt} prompts")
    print(format_scores(scores))
    return 0


def add_eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="score tracking against DAVIS ground truth (J, F, id switches, ...)",
                       description="Track the objects of each clip from first-frame prompts and print J, F, "
                                   "J&F, id switches, frames lost, frames to re-acquire and FPS.")
    p.add_argument("clips", nargs="*", metavar="CLIP_DIR", help="clip folders, or a folder of them "
                   "(default: the bundled samples/clips)")
    add_model_options(p)
    p.add_argument("--prompt", choices=("point", "box"), default="point", help="first-frame prompt kind")
    p.add_argument("--max-lost", type=float, default=10.0, metavar="SECONDS")
    p.set_defaults(func=cmd_eval)


# ---------------------------------------------------------------- bench

def cmd_bench(args) -> int:
    import tempfile

    from . import bench

    print(f"fastsam-video bench {args.what}  ({time.strftime('%Y-%m-%d %H:%M')})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.arch:
            args.model = str(bench.architecture_checkpoint(args.arch, Path(tmp)))
            args.conf = 0.0 if args.conf is None else args.conf  # random weights: a fixed detection count
            args.max_det = args.detections
        segmenter = make_segmenter(args)
        if args.what == "pipeline":
            report = bench.bench_pipeline(args.source or str(DEMO_CLIP / "video.mp4"), segmenter, args.frames,
                                          args.objects, run_ultralytics=not args.no_ultralytics)
        elif args.what == "soak":
            report = bench.bench_soak(args.source or str(DEMO_CLIP / "video.mp4"), segmenter, args.minutes,
                                      args.objects, report=lambda line: print(line, flush=True))
        elif args.what == "prompts":
            report = bench.bench_prompts(segmenter)
        else:
            report = bench.bench_tracker(segmenter)
    print(report)
    return 0


def add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: pipeline vs bare forward vs ultralytics; prompts; tracker",
                       description="Print FPS and per-stage milliseconds measured side by side in one run.")
    p.add_argument("what", choices=("pipeline", "soak", "prompts", "tracker"))
    p.add_argument("source", nargs="?", help="video for `pipeline` and `soak` (default: the bundled clip)")
    add_model_options(p)
    p.add_argument("--arch", choices=("fastsam-s", "fastsam-x"), help="FastSAM-s/-x architecture with random "
                   "weights (timing only; conf 0 and a fixed detection count make runs comparable)")
    p.add_argument("--detections", type=int, default=32, help="detections per frame with --arch (default 32)")
    p.add_argument("--frames", type=int, default=100, help="frames to time (default 100)")
    p.add_argument("--objects", type=int, default=5, help="tracked objects in the pipeline run (default 5)")
    p.add_argument("--no-ultralytics", action="store_true", help="skip ultralytics' own loop")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the `soak` run (default 10)")
    p.set_defaults(func=cmd_bench)


def add_serve_parser(sub) -> None:
    from .web import add_serve_arguments, serve

    p = sub.add_parser("serve", help="web app and HTTP API: live cameras in a browser, FastSAM's image demo")
    add_model_options(p)
    add_serve_arguments(p)
    p.set_defaults(func=serve)


# ---------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastsam-video", description="Real-time promptable video segmentation "
                                     "with FastSAM: segment, track and record.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_image_parser(sub)
    add_run_parser(sub)
    add_demo_parser(sub)
    add_eval_parser(sub)
    add_bench_parser(sub)
    add_gui_parser(sub)
    add_serve_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.command is None:  # the window when there is a screen, else the help
            if has_display():
                return run_window(args, None)
            parser.print_help()
            return 0
        return args.func(args)
    except FastSAMVideoError as err:
        print(f"fastsam-video: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastsam-video: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
