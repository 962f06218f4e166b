"""The config file: values, ${ENV} secrets, per-camera overrides, one line per mistake with its line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastsam_video.config import ConfigError, load_config, schema

SITE = """\
server:
  port: 8080
  output: /data/rec
model:
  imgsz: 640
defaults:
  keep_days: 7
  keep_max_size: 20GB
  realtime: false
cameras:
  yard:
    source: rtsp://user:${YARD_PASSWORD}@10.0.0.5/stream
    record: true
    prompts:
      - {text: a person}
      - {id: 4, points: [[10, 20], [30, 40, 0]]}
  door:
    source: /data/door.mp4
    realtime: true
    keep_max_size: 500MB
"""


def write(tmp_path, text):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_a_site_config_with_defaults_overrides_and_secrets(tmp_path):
    config = load_config(write(tmp_path, SITE), {"YARD_PASSWORD": "s3cret"})
    assert config.cameras["yard"].source == "rtsp://user:s3cret@10.0.0.5/stream"
    yard, door = config.camera_settings("yard"), config.camera_settings("door")
    assert yard["realtime"] is False and door["realtime"] is True  # the default, and the camera's own
    assert yard["keep_max_size"] == 20 * 10**9 and door["keep_max_size"] == 500 * 10**6
    assert yard["keep_days"] == door["keep_days"] == 7
    flags = config.flag_defaults()
    assert flags["port"] == 8080 and flags["imgsz"] == 640 and flags["keep_days"] == 7


@pytest.mark.parametrize("text, expected", [
    (SITE.replace("record: true", "record: maybe"), "site.yaml:13: cameras.yard.record: expected true or false, got \"maybe\""),
    (SITE.replace("port: 8080", "port: 80000"), "site.yaml:2: server.port: expected at most 65535, got 80000"),
    (SITE.replace("keep_max_size: 500MB", "keep_max_size: lots"), "site.yaml:20: cameras.door.keep_max_size: expected a size"),
    (SITE.replace("  door:", "  door:\n    colour: red"), "site.yaml:18: cameras.door.colour: unknown key"),
    (SITE.replace("{text: a person}", "{text: a person, box: [1, 2, 3, 4]}"),
     "site.yaml:15: cameras.yard.prompts.0: expected exactly one of points, box or text, got 2"),
    (SITE.replace("    source: /data/door.mp4\n", ""), "site.yaml:17: cameras.door.source: required"),
    ("cameras: [a, b\n", "site.yaml:2: not valid YAML"),
    (SITE.replace("realtime: true", "realtime: true\n    zones: [{name: z, polygon: [[0, 0], [1, 1]]}]"),
     "site.yaml:20: cameras.door.zones: zone 'z'"),
])
def test_each_mistake_is_one_line_naming_the_line_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), {"YARD_PASSWORD": "x"})
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), str(err.value)


def test_a_missing_secret_names_the_variable_and_every_mistake_gets_its_line(tmp_path):
    text = SITE.replace("realtime: true", "realtime: 12")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), {})
    lines = str(err.value).splitlines()
    assert lines[0] == "site.yaml:12: cameras.yard.source: ${YARD_PASSWORD} is not set in the environment " \
                       "(export YARD_PASSWORD=...)"
    assert lines[1].startswith("site.yaml:19: cameras.door.realtime: expected true or false, got 12") and len(lines) == 2


def test_the_schema_describes_the_file():
    properties = schema()["properties"]
    assert {"server", "model", "defaults", "cameras"} == set(properties)


def test_flags_given_win_over_the_file_and_errors_exit_2(tmp_path):
    path = write(tmp_path, "server:\n  port: 80000\n")
    result = subprocess.run([sys.executable, "-m", "fastsam_video", "serve", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "site.yaml:2: server.port" in result.stderr
    from fastsam_video.cli import build_parser
    from fastsam_video.config import with_config

    parser = build_parser()
    path = write(tmp_path, "server:\n  port: 9000\n  host: 0.0.0.0\nmodel:\n  imgsz: 320\n")
    argv = ["serve", "--config", str(path), "--port", "9100"]
    args = with_config(parser, argv, parser.parse_args(argv))
    assert (args.port, args.host, args.imgsz) == (9100, "0.0.0.0", 320)
    assert args.state_path == tmp_path / "site.state.json"


@pytest.mark.slow
def test_run_takes_its_cameras_prompts_and_model_options_from_the_config(tmp_path):
    from tests.web.conftest import OBJECT_POINT, still_clip

    clip = still_clip(tmp_path, frames=10)
    path = write(tmp_path, f"model:\n  imgsz: 160\n  backend: onnx\ncameras:\n  still:\n    source: {clip}\n"
                           f"    prompts: [{{points: [[{OBJECT_POINT[0]}, {OBJECT_POINT[1]}]]}}]\n")
    result = subprocess.run([sys.executable, "-m", "fastsam_video", "run", "--config", str(path),
                             "--export-coco", str(tmp_path / "coco.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "done: 10 frames" in result.stderr
    import json

    coco = json.loads((tmp_path / "coco.json").read_text())
    assert {a["category_id"] for a in coco["annotations"]} <= {1} and len(coco["annotations"]) >= 8  # object 1 only
