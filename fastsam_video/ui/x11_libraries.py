"""Qt's X11 platform plugin needs system libraries (libxcb-cursor0, libxcb-icccm4, ...) that many
Debian and Ubuntu desktops lack; without them Qt prints a multi-line message and aborts the
process (SIGABRT, status 134). Checked before the QApplication is made, without importing Qt:
`ldd` on PyQt6's xcb plugin lists what is missing, named here as the apt packages to install.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import FastSAMVideoError

# the libraries Qt 6's xcb plugin links, and the Debian / Ubuntu packages that hold them
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-util.so.1": "libxcb-util1", "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1", "libX11.so.6": "libx11-6", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0", "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3", "libSM.so.6": "libsm6", "libICE.so.6": "libice6",
}
# what to install in one go (the usual set: Qt's own list for its xcb plugin)
ALL_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
                "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0")
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


class DisplayLibrariesError(FastSAMVideoError):
    """The window cannot open here: Qt's X11 libraries are missing."""


def xcb_plugin() -> Path | None:
    """PyQt6's xcb platform plugin (or the one QT_QPA_PLATFORM_PLUGIN_PATH points Qt at)."""
    folder = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if not folder:
        spec = importlib.util.find_spec("PyQt6")
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = str(Path(list(spec.submodule_search_locations)[0]) / "Qt6" / "plugins" / "platforms")
    plugin = Path(folder) / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries `plugin` needs that the dynamic linker cannot find."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return list(dict.fromkeys(NOT_FOUND.findall(out)))


def uses_xcb() -> bool:
    """Whether Qt will pick its X11 plugin: Linux, an X display, no other platform chosen."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform.split(":")[0] not in ("", "xcb"):
        return False
    return bool(os.environ.get("DISPLAY")) and (platform == "xcb" or not os.environ.get("WAYLAND_DISPLAY"))


def check_x11_libraries() -> None:
    """Raises DisplayLibrariesError (one line: the packages to install) when Qt would abort."""
    if not uses_xcb():
        return
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin is not None else []
    if not missing:
        return
    packages = list(dict.fromkeys([PACKAGES[lib] for lib in missing if lib in PACKAGES] + ALL_PACKAGES.split()))
    raise DisplayLibrariesError(
        f"the window needs Qt's X11 libraries, missing here: {', '.join(missing)}; install them with "
        f"`sudo apt install {' '.join(packages)}` (or run headless: fastsam-video run SOURCE)")
