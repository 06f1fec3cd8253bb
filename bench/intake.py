"""Photo intake speed and quality: align + parse time per photo, and the automatic mask's mIoU.

    python bench/intake.py [--repeats 5] [--write]

For each photo it times reading, detection (+ FaceMesh), the aligned crop and the automatic
mask (median of the repeats, models already loaded), against two figures measured in the same
run: the 0.5 s budget and a baseline of the bare mediapipe calls intake cannot avoid (detector,
FaceMesh, selfie segmentation on the same pixels). Then the per-class IoU of the automatic mask
of the shared portrait against its hand-made mask (left/right merged). Prints Markdown;
--write replaces the `## Intake` section of bench/RESULTS.md with it.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402
from models import intake, labels  # noqa: E402
from models.intake import mp_models  # noqa: E402

BUDGET = 0.5
PORTRAIT = Path(__file__).resolve().parents[2] / "shared" / "data" / "portrait"


def _photos(folder: Path) -> dict[str, Path]:
    """The benchmark photos, written as files so reading is timed too."""
    with Image.open(PORTRAIT / "img.jpg") as image:
        rgb = np.asarray(image.convert("RGB"))
    tilted = cv2.warpAffine(cv2.resize(rgb, (512, 512), interpolation=cv2.INTER_AREA),
                            cv2.getRotationMatrix2D((256, 256), 20, 1.0), (512, 512), borderMode=cv2.BORDER_REFLECT_101)
    canvas = np.full((800, 1400, 3), 200, np.uint8)
    canvas[100:700, 700:1300] = cv2.resize(rgb, (600, 600), interpolation=cv2.INTER_AREA)
    canvas[300:600, 50:350] = cv2.resize(rgb, (300, 300), interpolation=cv2.INTER_AREA)
    import skimage.data
    made = {
        "portrait 1024 (shared)": None,
        "portrait 512, rolled 20 deg": tilted,
        "portrait upscaled to 2048": cv2.resize(rgb, (2048, 2048), interpolation=cv2.INTER_CUBIC),
        "two faces 1400x800": canvas,
        "astronaut 512 (scikit-image)": skimage.data.astronaut(),
    }
    paths = {}
    for index, (name, pixels) in enumerate(made.items()):
        if pixels is None:
            paths[name] = PORTRAIT / "img.jpg"
        else:
            paths[name] = folder / f"photo{index}.jpg"
            Image.fromarray(pixels).save(paths[name], quality=92)
    return paths


def _time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _stages(path: Path, repeats: int) -> dict[str, float]:
    load, photo = _time(lambda: intake.load_photo(path), repeats)
    detect, faces = _time(lambda: intake.detect_faces(photo), repeats)
    face = intake.pick_face(faces, 0, photo.name)
    crop, _ = _time(lambda: intake.align_face(photo, face, intake.Framing.celeba()), repeats)
    parse, _ = _time(lambda: intake.parse_face(photo, face), repeats)
    baseline, _ = _time(lambda: (mp_models.detect(photo.rgb), mp_models.mesh(photo.rgb),
                                 mp_models.person(photo.rgb)), repeats)
    return {"load": load, "detect": detect, "crop": crop, "parse": parse, "baseline": baseline,
            "faces": len(faces)}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _timing_table(photos: dict[str, Path], repeats: int) -> list[str]:
    lines = ["| photo | faces | load ms | detect ms | crop ms | parse ms | total ms | / 0.5 s budget | "
             "/ bare mediapipe calls |", "|---|---|---|---|---|---|---|---|---|"]
    for name, path in photos.items():
        s = _stages(path, repeats)
        total = s["load"] + s["detect"] + s["crop"] + s["parse"]
        lines.append(f"| {name} | {s['faces']} | {s['load'] * 1e3:.0f} | {s['detect'] * 1e3:.0f} | "
                     f"{s['crop'] * 1e3:.0f} | {s['parse'] * 1e3:.0f} | {total * 1e3:.0f} | "
                     f"{total / BUDGET:.2f} | {total / s['baseline']:.1f}x ({s['baseline'] * 1e3:.0f} ms) |")
    return lines


def _iou_table(photo: intake.Photo) -> list[str]:
    mask = intake.parse_face(photo, intake.pick_face(intake.detect_faces(photo)))
    with Image.open(PORTRAIT / "mask.png") as image:
        reference = labels.merge_left_right(np.asarray(image))
    pred = labels.merge_left_right(cv2.resize(mask, reference.shape[::-1], interpolation=cv2.INTER_NEAREST))
    ious = labels.per_class_iou(pred, reference)
    lines = ["| class | IoU |", "|---|---|"]
    lines += [f"| {labels.NAMES[c]} | {ious[c]:.3f} |" for c in np.unique(reference)]
    lines.append(f"| **mean** | **{labels.mean_iou(pred, reference):.3f}** |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="replace the Intake section of bench/RESULTS.md")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as folder:
        photos = _photos(Path(folder))
        start = time.perf_counter()
        first = intake.load_photo(photos["portrait 1024 (shared)"])
        intake.parse_face(first, intake.pick_face(intake.detect_faces(first)))
        cold = time.perf_counter() - start
        timing = _timing_table(photos, args.repeats)
    body = "\n".join([
        f"`python bench/intake.py`: {_cpu_name()}, {os.cpu_count()} cores, "
        f"OpenCV 1 thread, mediapipe {metadata.version('mediapipe')}; median of {args.repeats} runs per stage, models "
        f"loaded (the first photo with model loading took {cold:.2f} s). 1-minute load average "
        f"{os.getloadavg()[0]:.1f}: the machine is shared, so compare columns, not runs.",
        "", *timing, "",
        "Baseline: the bare mediapipe calls (detector + FaceMesh + selfie segmentation on the photo's pixels). "
        "Target: load + detect + crop + parse <= 0.5 s per photo.",
        "", "Automatic mask of the shared portrait vs its hand-made mask (512x512, left/right merged; "
        "acceptance: mean >= 0.6 over the classes present in the reference):", "", *_iou_table(first)])
    print(body)
    if args.write:
        write_section("Intake", body)
    intake.close_models()
    return 0


if __name__ == "__main__":
    sys.exit(main())
