"""Command line: fastsam-video image | run | demo | eval | bench | gui | annotate | serve | models | quantize. Parsing
and printing only: the options are `options`, the pipeline comes from `factory`, signals from `service`.

Errors the user can fix print one line and exit with status 2; no tracebacks. Exit codes:
0 done, 1 a camera or an output failed while the others went on, 2 usage or input errors,
128 + N after signal N (130 SIGINT, 143 SIGTERM).

The model's libraries (torch, ultralytics, OpenCV, PyAV, Qt, FastAPI) load only inside a
command, after its arguments, files and --model are checked: `--help` and every usage or
missing-file error answer at once (tests/test_cli.py checks `sys.modules`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from pathlib import Path

STARTED = time.monotonic()  # the process started a few tens of ms before: its interpreter's own start-up
os.environ.setdefault("YOLO_VERBOSE", "False")  # ultralytics prints model summaries otherwise

from . import assets  # noqa: E402
from .engines import open_engine  # noqa: E402  (loads no backend until called)
from .errors import FastSAMVideoError, PromptError, SourceError  # noqa: E402
from .options import (ModelOptions, OutputOptions, StreamOptions, add_model_options, add_ray_option,  # noqa: E402
                      add_stream_options, as_argument, image_size, parse_bool, parse_box,
                      parse_labels, parse_nested_list, parse_point, non_negative_float, positive_float, positive_int,
                      output_file, prompt_set, zone_set)
from .event_log import EventLog  # noqa: E402
from .headless import run_headless  # noqa: E402
from .frame_prompts import load_prompts_file, schedule_of  # noqa: E402
from .outputs import check_outputs  # noqa: E402
from .retention import add_retention_options  # noqa: E402
from .service import GracefulStop  # noqa: E402
from .ui import add_gui_parser, run_window  # noqa: E402  (Qt itself loads only when the window opens)
from .ui.annotate_command import add_annotate_parser  # noqa: E402

log = logging.getLogger("fastsam_video")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: "fastsam-video run: error: argument --imgsz: expected ..."."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def note_bundled_model(args, sources) -> None:
    """One line when the bundled model runs on anything but the bundled samples, naming the fix."""
    note = assets.bundled_model_note(args.model, list(sources))
    if note:
        print(note, file=sys.stderr, flush=True)


def check_sources(specs) -> None:
    """A local file or folder that does not exist fails here, before the model's libraries load
    (`sources.open_source` checks the rest: webcams, URLs, globs, unreadable files)."""
    for spec in specs:
        spec = str(spec).strip()
        if (re.fullmatch(r"(?:webcam:)?\d+", spec, re.IGNORECASE) or "://" in spec
                or spec.lower().startswith("lavfi:") or any(c in spec for c in "*?[")):
            continue
        if not Path(spec).expanduser().exists():
            raise SourceError(f"no such file: {spec} (expected a video file, an image folder or glob, "
                              "a webcam index or a stream URL)")


def make_segmenter(args):
    """The model the command line asks for (kept for callers holding a Namespace)."""
    return open_engine(ModelOptions.from_args(args))


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
        from .prompts import PointPrompt

        PointPrompt(tuple(points), tuple(labels))  # validates labels
        return "points", {"points": points, "labels": labels}
    return "everything", {}


def cmd_image(args) -> int:
    path = args.path or args.img_path
    if not path:
        raise FastSAMVideoError("no image given: fastsam-video image PATH (or --img_path PATH)")
    if not Path(path).is_file():
        raise FastSAMVideoError(f"image not found: {path}")
    mode, prompt = image_prompts(args)  # parse prompts before loading anything

    import cv2

    from .api import read_image
    from .prompts import ClipEncoder, select_by_boxes, select_by_points, select_by_text
    from .render import Annotator, Markers

    image = read_image(path)
    note_bundled_model(args, [path])
    segmenter = make_segmenter(args)
    started = time.perf_counter()
    seg = segmenter.segment(image)
    markers = Markers()
    if mode == "box":
        seg = select_by_boxes(seg, prompt["boxes"])
        markers = Markers(boxes=[tuple(b) for b in prompt["boxes"]])
    elif mode == "text":
        encoder = ClipEncoder(args.clip_model, device=segmenter.device)
        seg = select_by_text(seg, image, prompt["text"], encoder)
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

def build_pipeline(args, sources: str | list[str], prompts=None, on_result=None):
    """The pipeline the command line asks for (see `factory.build_pipeline`); with --ray, the
    cluster's (`cluster.cluster_pipeline`: the only place ray is imported)."""
    zones = zone_set(args)
    extra = {"zones": zones} if len(zones) else {}
    if getattr(args, "ray", None):
        from functools import partial

        from .cluster import cluster_pipeline

        build = partial(cluster_pipeline, args.ray)
    else:
        from .factory import build_pipeline as build

    return build(sources, ModelOptions.from_args(args), StreamOptions.from_args(args), OutputOptions.from_args(args),
                 prompt_set(args) if prompts is None else prompts, on_result=on_result, **extra)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_run(args) -> int:
    config = getattr(args, "site_config", None)
    configured = [c.source for c in config.cameras.values()] if config else []
    sources = list(args.sources) + configured
    if not sources:
        raise FastSAMVideoError("no SOURCE given: fastsam-video run SOURCE [SOURCE ...], or cameras in --config")
    check_sources(sources)
    out = OutputOptions.from_args(args)  # a path that cannot be written fails before the model's libraries load
    check_outputs(out.record, out.export_masks, out.export_coco, len(sources), segmented=bool(out.segment_seconds))
    zone_set(args)  # a name used twice: one line now, before the model loads
    schedule = schedule_of(args.ordered_prompts, args.prompts or [], args.everything)
    if schedule.later:  # prompts on later frames: the file is annotated in two passes
        return run_file_mode(args, schedule)
    events = EventLog(args.events) if args.events else None
    try:
        with GracefulStop() as stop:
            from .config import config_prompts
            from .retention import Retention, Rule

            prompts = schedule.initial()  # the flags' and the --prompts file's (all on frame 0 here)
            if config:
                prompts = config_prompts(prompts, args.everything, config)
            pipeline = build_pipeline(args, sources, prompts)
            if events is not None:
                pipeline.subscribe(events.write)
            note_bundled_model(args, sources)
            folder = Path(out.record).parent if out.record else Path(".")
            retention = Retention.for_pipeline([Rule(folder, args.keep_days, args.keep_max_size)], pipeline)
            try:
                retention.start()
                return run_headless(pipeline, stop, started_at=STARTED)
            finally:
                retention.close()
    finally:
        if events is not None:
            events.close()


def run_file_mode(args, schedule) -> int:
    """`run` with prompts on later frames: forwards, backwards from each object's first prompt,
    then the recording and the exports (file_annotation)."""
    from .factory import text_encoder_loader
    from .file_annotation import run_file

    given = [flag for flag, on in (("--ray", getattr(args, "ray", None)), ("--zone / --line", len(zone_set(args))),
                                   ("--segment-seconds", args.segment_seconds), ("--events", args.events),
                                   ("--realtime", args.realtime), ("--config", getattr(args, "site_config", None)))
             if on]
    if len(args.sources) != 1 or given:  # the two passes need the whole file on this machine, once
        why = f"drop {', '.join(given)}" if given else f"give one SOURCE, not {len(args.sources)}"
        raise PromptError(f"prompts on later frames (@FRAME, --prompts) annotate one video file in two passes: {why} "
                          "(or give every prompt on frame 0)")
    model = ModelOptions.from_args(args)

    def load_model():  # once the file and the prompts' frames are checked
        note_bundled_model(args, args.sources)
        return open_engine(model)

    report = run_file(args.sources[0], load_model, schedule, OutputOptions.from_args(args),
                      StreamOptions.from_args(args), lambda seg: text_encoder_loader(model.clip_model, seg.device))
    log.info("done: %d frames (%d tracked backwards) in %.1f s", report.frames, report.backward_steps, report.seconds)
    return 0


def add_run_parser(sub) -> None:
    p = sub.add_parser("run", help="segment and track a video, camera or stream",
                       description="Run the pipeline on SOURCE: a video file, an image folder or glob, "
                                   "a webcam (0 or webcam:0), or an rtsp:// / http:// URL. Several SOURCEs run "
                                   "together (one batched model call; per-camera trackers, recordings "
                                   "NAME-camN.mp4 and stats); prompts apply to each camera.")
    p.add_argument("sources", nargs="*", metavar="SOURCE")
    p.add_argument("--config", default=None, metavar="site.yaml",
                   help="a config file: its cameras are SOURCEs too, its model and defaults the options (flags win)")
    add_stream_options(p)
    p.add_argument("--prompts", type=as_argument(load_prompts_file), metavar="FILE.json",
                   help='prompts on any frame of a file: a JSON list of {"frame", "object", "points" | "box" | '
                        '"text"}; a later entry for an object corrects it. Objects prompted after the first frame '
                        "are tracked backwards too")
    p.add_argument("--events", type=output_file, metavar="FILE.jsonl",
                   help="write every event of the run (objects, cameras, zones) as one JSON object per line")
    add_retention_options(p)
    add_ray_option(p)
    p.set_defaults(func=cmd_run)


SAMPLES = assets.samples_dir()  # the wheel's package data, else the checkout's samples/
DEMO_CLIP = assets.demo_clip()


def cmd_demo(args) -> int:
    """The bundled model on the bundled clip, with its first-frame prompts tracked."""
    import json

    from .tracker import ObjectPrompt, PromptSet

    if not (DEMO_CLIP / "video.mp4").exists():
        raise FastSAMVideoError(f"the bundled clip is missing ({DEMO_CLIP}): restore samples/ with "
                                "`git checkout samples/` or reinstall the package")
    spec = json.loads((DEMO_CLIP / "prompts.json").read_text())
    prompts = PromptSet(tuple(ObjectPrompt(o["id"], points=(tuple(o["point"]),), labels=(1,))
                              for o in spec["objects"]), everything=True)
    args.everything = True
    if not args.record:
        args.record = str(Path(args.output) / "demo.mp4")
    if has_display() and not args.no_window:
        from .ui.x11_libraries import DisplayLibrariesError

        ordered, args.ordered_prompts = args.ordered_prompts, [("object_points", [(*o["point"], 1)])
                                                               for o in spec["objects"]]
        try:
            return run_window(args, str(DEMO_CLIP / "video.mp4"))
        except DisplayLibrariesError as err:  # the README's first command still shows something
            print(f"fastsam-video: {err}; writing {args.record} instead", file=sys.stderr, flush=True)
            args.ordered_prompts = ordered
    with GracefulStop() as stop:
        pipeline = build_pipeline(args, str(DEMO_CLIP / "video.mp4"), prompts)
        print(f"demo: {len(prompts.objects)} objects tracked on {DEMO_CLIP.name} ({spec['description']})")
        code = run_headless(pipeline, stop, started_at=STARTED)
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
    folders = clip_folders([Path(p) for p in args.clips] or [SAMPLES / "clips"])
    note_bundled_model(args, folders)

    from .evaluate import evaluate_clip, format_scores, parse_miss
    from .tracker import TrackerConfig

    misses = dict(parse_miss(text) for text in args.miss)
    segmenter = make_segmenter(args)
    config = TrackerConfig(max_lost_seconds=args.max_lost)
    scores = [evaluate_clip(folder, lambda image, index: segmenter.segment(image),
                            args.prompt, config, misses=misses) for folder in folders]
    missed = "".join(f", object {oid} missed in {len(f)} frames from {f[0]}" for oid, f in misses.items())
    print(f"{segmenter!r}, first-frame {args.prompt} prompts{missed}")
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
    p.add_argument("--max-lost", type=non_negative_float, default=10.0, metavar="SECONDS")
    p.add_argument("--miss", action="append", default=[], metavar="ID:START:COUNT",
                   help="inject misses: the model's masks of object ID removed from frame START for COUNT "
                        "frames (repeatable; any clip with annotations)")
    p.set_defaults(func=cmd_eval)


# ---------------------------------------------------------------- bench

def cmd_bench(args) -> int:
    if args.source:
        check_sources([args.source])
    import tempfile

    from . import bench

    print(f"fastsam-video bench {args.what}  ({time.strftime('%Y-%m-%d %H:%M')})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.arch:
            args.model = str(bench.architecture_checkpoint(args.arch, Path(tmp)))
            args.conf = 0.0 if args.conf is None else args.conf  # random weights: a fixed detection count
            args.max_det = args.detections
        if args.what == "cameras":
            from .camera_bench import bench_cameras, camera_engines

            print(bench_cameras(camera_engines(ModelOptions.from_args(args), args.engines), args.camera_fps,
                                args.seconds, report=lambda line: print(line, flush=True)))
            return 0
        segmenter = make_segmenter(args)
        if args.what == "pipeline":
            report = bench.bench_pipeline(args.source or str(DEMO_CLIP / "video.mp4"), segmenter, args.frames,
                                          args.objects, run_ultralytics=not args.no_ultralytics)
        elif args.what == "soak":
            report = bench.bench_soak(args.source or str(DEMO_CLIP / "video.mp4"), segmenter, args.minutes,
                                      args.objects, report=lambda line: print(line, flush=True))
        elif args.what == "prompts":
            report = bench.bench_prompts(segmenter)
        elif args.what == "schedule":
            from .camera_bench import format_schedule_scores, score_detect_every

            report = format_schedule_scores(score_detect_every(segmenter, (1, args.detect_every), rounds=args.rounds))
        else:
            report = bench.bench_tracker(segmenter)
    print(report)
    return 0


def add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: pipeline vs bare forward vs ultralytics; prompts; tracker",
                       description="Print FPS and per-stage milliseconds measured side by side in one run.")
    p.add_argument("what", choices=("pipeline", "soak", "prompts", "tracker", "cameras", "schedule"))
    p.add_argument("--detect-every", type=positive_int, default=3, metavar="K",
                   help="`schedule`: J, frames per CPU-second and the model's share of frames with "
                        "--detect-every K vs every frame (sample clips and tracker scenarios)")
    p.add_argument("--rounds", type=positive_int, default=1,
                   help="`schedule`: times through the clips, the CPU seconds added up (a shared machine's noise "
                        "averages out; default 1)")
    p.add_argument("source", nargs="?", help="video for `pipeline` and `soak` (default: the bundled clip)")
    add_model_options(p)
    p.add_argument("--arch", choices=("fastsam-s", "fastsam-x"), help="FastSAM-s/-x architecture with random "
                   "weights (timing only; conf 0 and a fixed detection count make runs comparable)")
    p.add_argument("--detections", type=positive_int, default=32, help="detections per frame with --arch (default 32)")
    p.add_argument("--frames", type=positive_int, default=100, help="frames to time (default 100)")
    p.add_argument("--objects", type=positive_int, default=5, help="tracked objects in the pipeline run (default 5)")
    p.add_argument("--no-ultralytics", action="store_true", help="skip ultralytics' own loop")
    p.add_argument("--minutes", type=positive_float, default=10.0, help="length of the `soak` run (default 10)")
    p.add_argument("--engines", default="onnx,openvino,int8", help="`cameras`: engines to compare "
                   "(onnx, openvino, int8, bf16, torch; default onnx,openvino,int8)")
    p.add_argument("--camera-fps", type=positive_float, default=5.0, help="`cameras`: each camera's rate (default 5)")
    p.add_argument("--seconds", type=positive_float, default=8.0, help="`cameras`: seconds per run (default 8)")
    p.set_defaults(func=cmd_bench)


def add_serve_parser(sub) -> None:
    from .web import add_serve_arguments, serve

    p = sub.add_parser("serve", help="web app and HTTP API: live cameras in a browser, FastSAM's image demo")
    add_model_options(p)
    add_serve_arguments(p)
    p.set_defaults(func=serve)


# ---------------------------------------------------------------- models

def cmd_models(args) -> int:
    print(assets.models_report())
    return 0


def add_models_parser(sub) -> None:
    p = sub.add_parser("models", help="the known checkpoints, where each is looked for, and which are present",
                       description="List the bundled model, FastSAM-s, FastSAM-x and CLIP ViT-B/32: present or "
                                   "not, the folders searched and the download URL.")
    p.set_defaults(func=cmd_models)


# ---------------------------------------------------------------- quantize

def cmd_quantize(args) -> int:
    from .engines.quantize import quantize_command

    print(quantize_command(args.model, args.calib, args.frames, args.imgsz))
    return 0


def add_quantize_parser(sub) -> None:
    p = sub.add_parser("quantize", help="the INT8 model for --int8 (OpenVINO, CPU), calibrated on your video",
                       description="Quantize a model to INT8 with NNCF on frames of VIDEO (default: the shipped "
                                   "clips), keep it in the cache for --int8, and print its agreement with FP32 "
                                   "on held-out frames.")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="checkpoint (.pt) or its ONNX export (default: the bundled model)")
    p.add_argument("--calib", default=None, metavar="VIDEO",
                   help="video whose frames calibrate the INT8 ranges (default: the shipped clips)")
    p.add_argument("--frames", type=positive_int, default=120, help="calibration frames (default 120)")
    p.add_argument("--imgsz", type=image_size, default=None, help="inference size (default: the model's)")
    p.set_defaults(func=cmd_quantize)


# ---------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fastsam-video", description="Real-time promptable video segmentation "
                                     "with FastSAM: segment, track and record.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.subcommands = sub  # with_config sets a subcommand's defaults from the config file
    add_image_parser(sub)
    add_run_parser(sub)
    add_demo_parser(sub)
    add_eval_parser(sub)
    add_bench_parser(sub)
    add_gui_parser(sub)
    add_annotate_parser(sub)
    add_serve_parser(sub)
    add_models_parser(sub)
    add_quantize_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        if getattr(args, "config", None) or getattr(args, "state", None):
            from .config import with_config

            args = with_config(parser, argv, args)  # flags given win over the file
        if args.command is None:  # the window when there is a screen, else the help
            if has_display():
                return run_window(args, None)
            parser.print_help()
            return 0
        if getattr(args, "model", None) and not getattr(args, "arch", None):
            assets.locate_weights(args.model)  # a missing file: one line now, not after the imports
        texts = [v for k, v in getattr(args, "ordered_prompts", None) or [] if k == "text"]
        clip_file = Path(str(getattr(args, "clip_model", "")))
        if texts and clip_file.suffix == ".pt" and not clip_file.expanduser().is_file():
            raise FastSAMVideoError(f"CLIP file not found: {clip_file} (the --text prompt needs it: give a CLIP .pt "
                                    "file or a model name like ViT-B/32)")
        return args.func(args)
    except FastSAMVideoError as err:
        for line in str(err).splitlines() or [""]:  # a config file: one line per mistake
            print(f"fastsam-video: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastsam-video: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The `fastsam-video` program: `main()`, then exit without the interpreter's teardown. By
    then every output is closed and every line flushed, and the teardown (garbage-collecting
    torch's and the model libraries' objects) takes seconds: measured 5.6 s on a busy 2-core
    machine, which would break the promise to stop within 10 s of SIGTERM."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
