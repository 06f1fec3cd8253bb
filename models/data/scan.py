"""Finding and checking image/mask pairs of a segmentation dataset, with one-line errors.

Two layouts are recognised (spec 9.1 and the FFHQ-style folder):

* "celebamask": ROOT/celebahq_mask_img/<k>.jpg and ROOT/celebahq_mask_mask/<k>.png
* "folder":     ROOT/images/<stem>.(jpg|jpeg|png|webp|bmp) and ROOT/masks/<stem>.png

Images and masks pair by file stem. Masks are single-channel ID maps (0..18); a palette-mode PNG
counts as an ID map when its indices are all <= 18. A colour (palette RGB) mask is reported and
can be rewritten in place by `convert_colour_masks`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.io.atomic import atomic_write_stream
from models.labels import LabelError, NUM_CLASSES, decolorize

LAYOUTS = {"celebamask": ("celebahq_mask_img", "celebahq_mask_mask"), "folder": ("images", "masks")}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MASK_SUFFIXES = (".png", ".bmp")
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")
META_FILE = "meta.json"


class DatasetError(ValueError):
    """A dataset that cannot be used: names the file or folder and the reason in one line.

    `kind` classifies file problems (see Problem.kind); folder-level errors have kind "folder".
    """

    def __init__(self, path: str | Path, reason: str, kind: str = "folder"):
        self.path = Path(path)
        self.reason = reason
        self.kind = kind
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class Pair:
    stem: str
    image: Path
    mask: Path


@dataclass(frozen=True)
class Problem:
    path: Path
    kind: str      # unreadable | colour_mask | ids_above_18 | size_mismatch | lossy_mask | duplicate
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class DatasetReport:
    root: Path
    layout: str
    framing: str                                   # "celeba" (crop the central 80%) or "model"
    pairs: list[Pair] = field(default_factory=list)
    missing_masks: list[Path] = field(default_factory=list)    # images without a mask
    missing_images: list[Path] = field(default_factory=list)   # masks without an image
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.pairs) and not self.problems and not self.missing_masks and not self.missing_images

    def summary(self) -> str:
        lines = [f"{self.root} ({self.layout} layout, {self.framing} framing): {len(self.pairs)} pairs"]
        if self.missing_masks:
            lines.append(f"{len(self.missing_masks)} images without a mask, e.g. {self.missing_masks[0].name}")
        if self.missing_images:
            lines.append(f"{len(self.missing_images)} masks without an image, e.g. {self.missing_images[0].name}")
        lines += [str(p) for p in self.problems]
        if any(p.kind == "colour_mask" for p in self.problems):
            lines.append(f"colour masks can be converted to ids with models.data.convert_colour_masks('{self.root}')")
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """Raise DatasetError for the first problem (counting the others) if there is any."""
        if self.problems:
            first = self.problems[0]
            more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
            raise DatasetError(first.path, first.reason + more, first.kind)


def detect_layout(root: str | Path) -> str:
    """The layout of ROOT, or DatasetError if the folder is missing, empty or unrecognised."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(root, "folder does not exist")
    if not root.is_dir():
        raise DatasetError(root, "is not a folder")
    if not any(root.iterdir()):
        raise DatasetError(root, "folder is empty")
    for name, (images, masks) in LAYOUTS.items():
        if (root / images).is_dir() and (root / masks).is_dir():
            return name
    expected = " or ".join(f"{i}/ + {m}/" for i, m in LAYOUTS.values())
    raise DatasetError(root, f"no dataset folders found: expected {expected}")


def scan_dataset(root: str | Path, layout: str = "auto", deep: bool = False) -> DatasetReport:
    """Pair images and masks by stem and check them.

    Always checked: files open as images, masks are not lossy JPEGs, colour masks, image and mask
    sizes are proportional (a 512 mask for a 1024 image is fine). deep=True also decodes every
    file, catching truncated images and masks with ids above 18 (otherwise caught on loading).
    """
    root = Path(root)
    found = detect_layout(root)
    if layout != "auto" and layout != found:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; use auto, {', '.join(LAYOUTS)}")
        images, masks = LAYOUTS[layout]
        raise DatasetError(root, f"not a {layout} dataset: {images}/ and {masks}/ are missing")
    image_dir, mask_dir = (root / d for d in LAYOUTS[found])
    report = DatasetReport(root, found, _framing(root))
    images = _by_stem(image_dir, IMAGE_SUFFIXES, report)
    masks = _by_stem(mask_dir, MASK_SUFFIXES + LOSSY_SUFFIXES, report)
    for stem in sorted(set(images) | set(masks), key=_natural):
        if stem not in masks:
            report.missing_masks.append(images[stem])
        elif stem not in images:
            report.missing_images.append(masks[stem])
        elif _check_pair(images[stem], masks[stem], deep, report):
            report.pairs.append(Pair(stem, images[stem], masks[stem]))
    return report


def _framing(root: Path) -> str:
    meta = root / META_FILE
    if meta.is_file():
        try:
            return "model" if json.loads(meta.read_text()).get("framing") == "model" else "celeba"
        except (OSError, ValueError, AttributeError) as exc:
            raise DatasetError(meta, f"unreadable dataset description ({exc})", "unreadable") from exc
    return "celeba"


def _natural(stem: str):
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _by_stem(folder: Path, suffixes: tuple[str, ...], report: DatasetReport) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if path.stem in out:
            report.problems.append(Problem(path, "duplicate", f"another file has the same stem: {out[path.stem].name}"))
            continue
        out[path.stem] = path
    return out


def _check_pair(image: Path, mask: Path, deep: bool, report: DatasetReport) -> bool:
    problems = report.problems
    if mask.suffix.lower() in LOSSY_SUFFIXES:
        problems.append(Problem(mask, "lossy_mask", "masks must be PNG: JPEG compression corrupts the label ids"))
        return False
    try:
        with Image.open(image) as im:
            image_size = im.size
            if deep:
                im.load()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        problems.append(Problem(image, "unreadable", f"cannot read image ({exc})"))
        return False
    try:
        with Image.open(mask) as im:
            mask_size, mode = im.size, im.mode
        if deep or mode in ("RGB", "RGBA"):
            load_mask(mask)
    except DatasetError as exc:
        problems.append(Problem(mask, exc.kind, exc.reason))
        return False
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        problems.append(Problem(mask, "unreadable", f"cannot read mask ({exc})"))
        return False
    if image_size[0] * mask_size[1] != image_size[1] * mask_size[0]:
        problems.append(Problem(mask, "size_mismatch", f"mask is {mask_size[0]}x{mask_size[1]} but its image "
                                                       f"{image.name} is {image_size[0]}x{image_size[1]}"))
        return False
    return True


def load_image(path: Path) -> np.ndarray:
    """RGB uint8 (H, W, 3); DatasetError if unreadable."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(path, f"cannot read image ({exc})", "unreadable") from exc


def load_mask(path: Path) -> np.ndarray:
    """ID map uint8 (H, W) with ids 0..18; DatasetError for unreadable, colour or out-of-range masks."""
    try:
        with Image.open(path) as im:
            mode = im.mode
            values = np.asarray(im)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(path, f"cannot read mask ({exc})", "unreadable") from exc
    if values.ndim == 3:
        rgb = values[..., :3]
        if mode == "LA" or (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            values = values[..., 0]
        else:
            raise DatasetError(path, "colour mask (RGB); masks must hold label ids 0..18 "
                                     "(convert palette masks with models.data.convert_colour_masks)", "colour_mask")
    if values.size and int(values.max()) >= NUM_CLASSES:
        bad = [int(v) for v in np.unique(values[values >= NUM_CLASSES])[:5]]
        raise DatasetError(path, f"mask holds ids above 18 ({bad}); is it a colour or greyscale picture?",
                           "ids_above_18")
    return values.astype(np.uint8)


def convert_colour_masks(root: str | Path, layout: str = "auto") -> list[Path]:
    """Rewrite every colour (palette RGB) mask of the dataset as an ID PNG, atomically; returns them."""
    report_layout = detect_layout(root) if layout == "auto" else layout
    mask_dir = Path(root) / LAYOUTS[report_layout][1]
    converted = []
    for path in sorted(mask_dir.iterdir()):
        if path.suffix.lower() not in MASK_SUFFIXES or path.name.startswith("."):
            continue
        with Image.open(path) as im:
            if im.mode not in ("RGB", "RGBA"):
                continue
            rgb = np.asarray(im)[..., :3]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            continue
        try:
            ids = decolorize(rgb)
        except LabelError as exc:
            raise DatasetError(path, str(exc), "colour_mask") from exc
        atomic_write_stream(path, lambda f, ids=ids: Image.fromarray(ids).save(f, format="PNG"))
        converted.append(path)
    return converted
