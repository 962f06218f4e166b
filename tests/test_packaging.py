"""The installable package: the wheel carries the bundled model and the demo clips, downloads and
caches go to the user's cache folder, and the wheel works in a fresh environment outside the
repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fastsam_video import assets
from fastsam_video.errors import WeightsError

from .conftest import ROOT, SAMPLES


# ---------------------------------------------------------------- where files are found and put

def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(tmp_path / "mine"))
    assert assets.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("FASTSAM_VIDEO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_dir() == tmp_path / "xdg" / "fastsam-video"
    from fastsam_video.engines.export import default_cache_dir  # the ONNX exports go there too

    assert default_cache_dir() == tmp_path / "xdg" / "fastsam-video"


def test_downloads_go_to_the_cache_not_the_package(monkeypatch, tmp_path):
    import ultralytics.utils.downloads as downloads

    asked = []

    def download(file, *args, **kwargs):
        asked.append(Path(file))
        Path(file).write_bytes(b"weights")
        return file

    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(tmp_path))
    monkeypatch.setattr(downloads, "attempt_download_asset", download)
    for name in ("FastSAM-s.pt", "FastSAM.pt"):  # the original repo's name for -x
        found = assets.resolve_weights(name)
        assert found.parent == tmp_path / "weights" and found == asked[-1]
    assert [p.name for p in asked] == ["FastSAM-s.pt", "FastSAM-x.pt"]
    assert assets.resolve_weights("FastSAM-s.pt") == tmp_path / "weights" / "FastSAM-s.pt"  # no second download
    assert len(asked) == 2


def test_missing_weights_offline_name_file_folders_and_url(monkeypatch, tmp_path):
    import ultralytics.utils.downloads as downloads

    def offline(*args, **kwargs):
        raise ConnectionError("Environment may be offline.")

    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(tmp_path))
    monkeypatch.setattr(downloads, "attempt_download_asset", offline)
    with pytest.raises(WeightsError) as err:
        assets.resolve_weights("FastSAM-x.pt")
    message = str(err.value)
    assert "\n" not in message and "FastSAM-x.pt" in message
    assert f"{ROOT / 'weights'}/" in message and f"{tmp_path / 'weights'}/" in message
    assert assets.ASSETS_URL + "FastSAM-x.pt" in message


def test_bundled_model_and_samples_found_in_the_checkout():
    assert assets.bundled_weights() == ROOT / "weights" / assets.BUNDLED_NAME
    assert (assets.demo_clip() / "video.mp4").is_file() and assets.samples_dir() == SAMPLES


def test_the_bundled_model_note_names_the_fix(tmp_path):
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(SAMPLES / "images" / "scene0.jpg", photo)
    assert assets.bundled_model_note(None, [SAMPLES / "images" / "scene0.jpg"]) is None
    assert assets.bundled_model_note(None, [SAMPLES / "clips" / "crossing"]) is None
    assert assets.bundled_model_note("FastSAM-s.pt", [photo]) is None
    for sources in ([photo], ["rtsp://cam/1"], [SAMPLES / "images" / "scene0.jpg", "0"]):
        note = assets.bundled_model_note(None, sources)
        assert "\n" not in note and "--model FastSAM-s.pt" in note and "weights" in note


def test_clip_url_is_the_one_clip_downloads():
    import clip.clip

    assert assets.CLIP_URL == clip.clip._MODELS["ViT-B/32"]


def test_ultralytics_floor_is_the_tested_version():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = next(d for d in project["dependencies"] if d.startswith("ultralytics"))
    floor = re.search(r">=([\d.]+)", spec).group(1)
    locked = {p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
              if p["name"] == "ultralytics"}
    assert locked == {floor}, f"pyproject says {spec}, uv.lock tests {locked}"
    import ultralytics

    assert ultralytics.__version__ == floor


# ---------------------------------------------------------------- the wheel in a fresh environment

def uv() -> str:
    path = shutil.which("uv")
    if path is None:
        pytest.skip("uv is not on PATH (it builds the wheel and the environment)")
    return path


def clean_env(**extra) -> dict[str, str]:
    """The environment of a user's shell: no project venv, no PYTHONPATH into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(YOLO_VERBOSE="False", **extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the bin folder of a fresh venv outside the repository with the wheel installed):
    offline, from uv's cache (hardlinks), with the dependency versions of uv.lock."""
    tmp = tmp_path_factory.mktemp("wheel")
    assert not tmp.resolve().is_relative_to(ROOT)

    def call(*args: str, cwd: Path = ROOT) -> None:
        done = subprocess.run([uv(), *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stderr[-3000:]}"

    call("build", "--wheel", "--out-dir", str(tmp / "dist"))
    call("export", "--frozen", "--no-dev", "--no-emit-project", "--format", "pylock.toml", "-q",
         "-o", str(tmp / "pylock.toml"))
    venv = tmp / "venv"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    call("venv", "-q", "--python", python, str(venv), cwd=tmp)
    wheel = next((tmp / "dist").glob("fastsam_video-*.whl"))
    install = ("pip", "install", "-q", "--offline", "--link-mode", "hardlink", "--python", str(venv / "bin" / "python"))
    call(*install, "-r", str(tmp / "pylock.toml"), cwd=tmp)
    call(*install, "--no-deps", str(wheel), cwd=tmp)
    return wheel, venv / "bin"


def fastsam_video(bin_dir: Path, *args, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "fastsam-video"), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=clean_env(FASTSAM_VIDEO_CACHE=str(cache)), timeout=300)


@pytest.mark.slow
def test_the_wheel_carries_the_model_and_the_clips(installed):
    names = set(zipfile.ZipFile(installed[0]).namelist())
    assert f"fastsam_video/_data/weights/{assets.BUNDLED_NAME}" in names
    for clip in sorted((SAMPLES / "clips").iterdir()):
        for name in ("video.mp4", "prompts.json", "Annotations/00000.png"):
            assert f"fastsam_video/_data/samples/clips/{clip.name}/{name}" in names
    assert f"fastsam_video/_data/weights/{assets.BUNDLED_ONNX_NAME}" in names  # the CPU path without PyTorch
    assert not any(n.startswith(("weights/", "samples/")) for n in names)


@pytest.mark.slow
def test_installed_demo_and_image_run_outside_the_repository(installed, tmp_path):
    import av
    import cv2

    bin_dir = installed[1]
    site = next(bin_dir.parent.glob("lib/python*/site-packages"))
    before = {p for p in site.rglob("*") if p.is_file()}
    cache = tmp_path / "cache"

    models = fastsam_video(bin_dir, "models", cwd=tmp_path, cache=cache)
    assert models.returncode == 0, models.stderr
    bundled = next(line for line in models.stdout.splitlines() if line.startswith(assets.BUNDLED_NAME))
    assert "present" in bundled and f"{site}/fastsam_video/_data/weights/" in models.stdout
    assert "FastSAM-s.pt" in models.stdout and str(ROOT) not in models.stdout

    demo = fastsam_video(bin_dir, "demo", "--no-window", "--max-frames", 12, "--output", "out", cwd=tmp_path,
                         cache=cache)
    assert demo.returncode == 0, demo.stderr
    assert "bundled model" not in demo.stderr  # the demo runs on the bundled samples
    with av.open(str(tmp_path / "out" / "demo.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12

    photo = tmp_path / "photo.jpg"
    shutil.copyfile(SAMPLES / "images" / "scene2.jpg", photo)
    image = fastsam_video(bin_dir, "image", photo, "--output", "out", cwd=tmp_path, cache=cache)
    assert image.returncode == 0, image.stderr
    overlay = cv2.imread(str(tmp_path / "out" / "photo.png"))
    assert overlay is not None and overlay.shape == cv2.imread(str(photo)).shape
    assert "--model FastSAM-s.pt" in image.stderr  # a user's own picture: the note names the fix

    assert not list(cache.glob("*.onnx")), "the shipped ONNX file is run: nothing is exported"
    written = {p for p in site.rglob("*") if p.is_file()} - before
    assert not [p for p in written if p.suffix != ".pyc"], "nothing but bytecode is written into site-packages"


def test_licence_is_stated_as_the_agpl_its_ultralytics_dependency_imposes():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "AGPL-3.0-only"
    assert any(d.startswith("ultralytics") for d in project["dependencies"])  # the reason
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    readme = (ROOT / "README.md").read_text()
    assert "Apache-2.0" not in readme.split("## Licence")[0]  # no other licence claimed for the package
    assert "AGPL-3.0" in readme.split("## Licence")[1]
