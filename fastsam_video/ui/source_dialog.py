"""Open a video file, a camera or a stream, with the recent sources (passwords never kept)."""

from __future__ import annotations

import re
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                             QLineEdit, QListWidget, QListWidgetItem, QPushButton, QSpinBox, QTabWidget,
                             QVBoxLayout, QWidget)

from ..sources import STREAM_PREFIXES, redact_url

RECENT_KEY = "recent_sources"
MAX_RECENT = 10
VIDEO_FILTER = ("Videos and images (*.mp4 *.mkv *.avi *.mov *.webm *.m4v *.ts *.mpg *.mpeg *.wmv *.flv "
                "*.jpg *.jpeg *.png *.bmp);;All files (*)")
MASK = "***"


def recent_sources(settings: QSettings) -> list[str]:
    value = settings.value(RECENT_KEY, [])
    if isinstance(value, str):  # QSettings gives back a one-element list as a plain string
        value = [value]
    return [str(v) for v in (value or []) if str(v).strip()]


def remember_source(settings: QSettings, spec: str) -> None:
    """Put `spec` first in the recent list, password redacted (it is asked for again)."""
    shown = redact_url(spec)
    entries = [shown] + [s for s in recent_sources(settings) if s != shown]
    settings.setValue(RECENT_KEY, entries[:MAX_RECENT])
    settings.sync()


def kind_of(spec: str) -> str:
    if re.fullmatch(r"(?:webcam:)?\d+", spec.strip(), re.IGNORECASE):
        return "camera"
    if spec.strip().lower().startswith(STREAM_PREFIXES) or spec.startswith("lavfi:"):
        return "stream"
    return "file"


def merge_password(url: str, password: str) -> str:
    """Put `password` into `url`: in place of a redacted *** (a recent entry), or after the
    user name of rtsp://user@host/... . Without a password the URL is returned unchanged."""
    if not password:
        return url
    if MASK in url:
        return url.replace(MASK, password)
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if sep and at and ":" not in userinfo:
        return f"{scheme}://{userinfo}:{password}@{host}{rest[end:]}"
    return url


class SourceDialog(QDialog):
    """Three tabs (file, camera, stream) and the recent sources; `spec()` is what to open."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None, *, initial: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open source")
        self.settings = settings
        self.setMinimumWidth(520)

        self.recent = QListWidget()
        self.recent.setMaximumHeight(150)
        for entry in recent_sources(settings):
            item = QListWidgetItem(f"{kind_of(entry)}: {entry}")
            item.setData(Qt.ItemDataRole.UserRole, entry)
            self.recent.addItem(item)
        self.recent.currentItemChanged.connect(lambda item, _: item and self.fill(item.data(Qt.ItemDataRole.UserRole)))
        self.recent.itemDoubleClicked.connect(lambda _: self._accept_if_ready())

        self.tabs = QTabWidget()
        file_tab = QWidget()
        self.path = QLineEdit()
        self.path.setPlaceholderText("video file, image folder or glob (frames/*.jpg)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout(file_tab)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.tabs.addTab(file_tab, "File")

        camera_tab = QWidget()
        self.camera = QSpinBox()
        self.camera.setRange(0, 63)
        form = QFormLayout(camera_tab)
        form.addRow("Camera index", self.camera)
        self.tabs.addTab(camera_tab, "Camera")

        stream_tab = QWidget()
        self.url = QLineEdit()
        self.url.setPlaceholderText("rtsp://user@camera:554/stream  or  http://host/video.mjpg")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("optional; never shown or stored")
        form = QFormLayout(stream_tab)
        form.addRow("URL", self.url)
        form.addRow("Password", self.password)
        hint = QLabel("A password typed into the URL works too; it is hidden everywhere else "
                      "and left out of the recent list.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray")
        form.addRow(hint)
        self.tabs.addTab(stream_tab, "Stream")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_ready)
        buttons.rejected.connect(self.reject)
        self.message = QLabel()
        self.message.setStyleSheet("color: #d9534f")

        layout = QVBoxLayout(self)
        if self.recent.count():
            layout.addWidget(QLabel("Recent"))
            layout.addWidget(self.recent)
        layout.addWidget(self.tabs)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        if initial:
            self.fill(initial)

    def fill(self, spec: str) -> None:
        kind = kind_of(spec)
        if kind == "camera":
            self.camera.setValue(int(re.sub(r"\D", "", spec)))
            self.tabs.setCurrentIndex(1)
        elif kind == "stream":
            self.url.setText(spec)
            self.tabs.setCurrentIndex(2)
            if MASK in spec:
                self.password.setFocus()
        else:
            self.path.setText(spec)
            self.tabs.setCurrentIndex(0)

    def browse(self) -> None:
        start = self.path.text() or str(self.settings.value("last_folder", str(Path.cwd())))
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", start, VIDEO_FILTER)
        if path:
            self.path.setText(path)
            self.settings.setValue("last_folder", str(Path(path).parent))

    def spec(self) -> str:
        tab = self.tabs.currentIndex()
        if tab == 1:
            return str(self.camera.value())
        if tab == 2:
            return merge_password(self.url.text().strip(), self.password.text())
        return self.path.text().strip()

    def _accept_if_ready(self) -> None:
        spec = self.spec()
        if not spec:
            self.message.setText("Nothing to open: choose a file, a camera or a URL.")
        elif MASK in spec:
            self.message.setText("This recent stream needs its password: type it in the Password field.")
            self.tabs.setCurrentIndex(2)
            self.password.setFocus()
        else:
            self.accept()
