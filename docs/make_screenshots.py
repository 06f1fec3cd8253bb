"""Drive the real app into its main states and save screenshots of them (docs/screenshot_*.png).

    xvfb-run -a -s "-screen 0 1400x900x24" python docs/make_screenshots.py [--model FILE]

States: painting (a photo aligned, auto-masked, inverted, an edit painted), orbiting (the edited
face turned in the 3D view, latent inspector shown), training (the training dialog fine-tuning
the model on a small procedural dataset). Under a real X server the whole screen is grabbed (the
training dialog is its own window); offscreen, the windows' own pictures are saved.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTO = ROOT.parent / "shared" / "data" / "portrait" / "img.jpg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled demo model)")
    parser.add_argument("--photo", default=str(PHOTO), help="portrait photo")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fenerf-shots-"))
    os.environ["XDG_DATA_HOME"] = str(scratch / "data")          # logs and autosaves stay out of $HOME
    import torch
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    app.setApplicationName("FENeRF Studio")
    from fenerf_app.window import MainWindow
    window = MainWindow(args.model)
    window.resize(1400, 860)
    window.move(0, 0)
    window.show()
    shots = Shots(app, window, Path(args.out))
    shots.wait(lambda: window.session.model is not None, "the model")
    paint_state(shots, window, Path(args.photo))
    orbit_state(shots, window)
    training_state(shots, window, scratch)
    window.close()
    return 0


class Shots:
    """Waiting on the event loop and saving pictures."""

    def __init__(self, app, window, out: Path) -> None:
        self.app, self.window, self.out = app, window, out
        out.mkdir(parents=True, exist_ok=True)

    def wait(self, condition, what: str, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.app.processEvents()
            time.sleep(0.01)

    def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def save(self, name: str, widget=None) -> None:
        self._pause(0.5)
        path = self.out / f"screenshot_{name}.png"
        if self.app.platformName() == "xcb" and widget is None:     # the screen over the main window
            frame = self.window.frameGeometry()
            picture = self.app.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
        else:
            picture = (widget or self.window).grab()
        if not picture.save(str(path)):
            raise OSError(f"{path}: cannot write the screenshot")
        print(f"wrote {path} ({picture.width()}x{picture.height()})")


def stroke(document, label: int, radius: int, points) -> None:
    document.label, document.brush_radius = label, radius
    document.press(*points[0])
    for point in points[1:]:
        document.drag(*point)
    document.release()


def paint_state(shots: Shots, window, photo: Path) -> None:
    from models.labels import ID
    session = window.session
    session.open_photo(photo)
    shots.wait(lambda: not session.busy("portrait") and session.current is not None, "the photo")
    window.inversion_panel.preset_combo.setCurrentIndex(window.inversion_panel.preset_combo.findData("quick"))
    window.inversion_panel.start(geometry_only=False)
    shots.wait(lambda: not session.busy("invert"), "the inversion", 600)
    document = session.current.document
    stroke(document, ID["hair"], 14, [(150, 70), (256, 40), (360, 70)])       # a fuller hairline
    stroke(document, ID["eye_g"], 6, [(150, 215), (215, 210), (290, 210), (360, 215)])
    window.paint_panel.canvas.set_brush_radius(10)
    viewport = window.view_panel.viewport
    shots.wait(lambda: viewport.frame is not None and viewport.frame.final and not viewport.scheduler.busy,
               "the 3D view")
    shots.save("painting")


def orbit_state(shots: Shots, window) -> None:
    session = window.session
    window.inversion_panel.start(geometry_only=True)
    shots.wait(lambda: not session.busy("invert"), "the geometry re-inversion", 600)
    window.docks["inspector"].raise_()
    viewport = window.view_panel.viewport
    viewport.set_camera(viewport.camera.orbit(0.55, -0.12))
    window.view_panel.mode_combo.setCurrentIndex(3)                              # overlay
    shots.wait(lambda: viewport.frame is not None and viewport.frame.final
               and viewport.frame.camera == viewport.camera and not viewport.scheduler.busy, "the orbit")
    shots.save("orbit")


def training_state(shots: Shots, window, scratch: Path) -> None:
    from models.data.writer import write_dataset
    session = window.session
    dataset = write_dataset(scratch / "dataset", 16, 64, 0, 1, progress=False)
    dialog = window.show_training()
    dialog.move(330, 120)
    dialog.curriculum_combo.setCurrentIndex(dialog.curriculum_combo.findData("demo_finetune"))
    dialog.set_dataset(dataset)
    shots.wait(lambda: dialog.dataset_ok, "the dataset check")
    dialog.set_run_folder(scratch / "run")
    dialog.log_every.setValue(1)
    dialog.preview_every.setValue(8)
    dialog.start()
    preview = scratch / "run" / "previews" / "00000008.png"
    shots.wait(lambda: (dialog.poll(), dialog.records >= 10 and preview.is_file())[1], "training metrics", 900)
    dialog.poll()
    shots.save("training", None if shots.app.platformName() == "xcb" else dialog)
    session.stop_training()
    shots.wait(lambda: not session.busy("train"), "the training to stop", 300)


if __name__ == "__main__":
    sys.exit(main())
