"""The work behind each workflow, as plain functions run on worker threads (no widgets).

Each takes plain data and a `JobContext` where it reports progress or partial results; the
session (`fenerf_app/session.py`) starts them and applies their results on the UI thread.
Core modules that may be missing from a build are imported here, lazily, and turned into
`NotAvailableError` with a clear message.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fenerf_app.errors import NotAvailableError
from fenerf_app.workers import JobContext
from models.field.codes import Codes
from models.field.generator import Generator
from models.field.latents import latents_for_seed
from models.render.options import RenderOptions
from models.render.renderer import render

RANDOM_RENDER = 128          # a random portrait's frontal render (its painting reference)
RANDOM_DOCUMENT = 256        # ... and its mask document size


def optional(module: str, feature: str):
    """Import a core module that a build may lack; NotAvailableError names the feature."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise NotAvailableError(f"{feature} is not available in this build ({module} is missing)") from None
        raise


# -- model -----------------------------------------------------------------------------------
def load_model_job(path: str | Path | None, ctx: JobContext):
    """Open a model (None: the default one) and precompute its average codes."""
    from models.io.model import load_model, resolve_model_path
    ctx.progress(0, 2, "reading the model")
    model = load_model(resolve_model_path(path))
    ctx.progress(1, 2, "computing the average codes")
    model.generator.average_codes()
    return model


def render_defaults_options(defaults: dict, size: int, steps: int) -> RenderOptions:
    return RenderOptions(img_size=size, num_steps=steps, fov=defaults.get("fov", 12.0),
                         ray_start=defaults.get("ray_start", 0.88), ray_end=defaults.get("ray_end", 1.12))


def render_front(gen: Generator, codes: Codes, defaults: dict, size: int, steps: int = 24,
                 yaw: float = math.pi / 2, pitch: float = math.pi / 2) -> tuple[np.ndarray, np.ndarray]:
    """RGB (R, R, 3) and ID mask (R, R) of one view."""
    result = render(gen, codes, yaw, pitch, render_defaults_options(defaults, size, steps))
    return result.rgb_uint8(), result.mask_ids()


# -- portraits -------------------------------------------------------------------------------
@dataclass
class NewPortrait:
    """What a job hands the session to create a portrait."""

    name: str
    crop: np.ndarray                       # the painting reference and inversion target
    mask: np.ndarray                       # initial ID mask (document size)
    codes: Codes | None = None
    source: Path | None = None
    transform: dict | None = None
    notes: list[str] = field(default_factory=list)
    auto_mask: np.ndarray | None = None


def random_portrait_job(gen: Generator, seed: int, psi: float, defaults: dict, ctx: JobContext) -> NewPortrait:
    """A portrait from a seed: truncated codes and their frontal render as its photo and mask."""
    import cv2
    from painter.tools import resize_nearest
    ctx.progress(0, 1, f"rendering seed {seed}")
    z_geo, z_app = latents_for_seed(seed, gen.cfg.z_geo_dim, gen.cfg.z_app_dim)
    codes = gen.codes_for(z_geo.to(gen.device), z_app.to(gen.device), psi)
    rgb, mask = render_front(gen, codes, defaults, RANDOM_RENDER)
    side = RANDOM_DOCUMENT
    crop = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_LINEAR)
    return NewPortrait(f"seed {seed}", crop, resize_nearest(mask, (side, side)), codes.detach())


def intake_job(path: Path, framing: dict | None, face_index: int, ctx: JobContext) -> NewPortrait:
    """Read a photo, find and align its face to the model's framing, parse an automatic mask."""
    intake = optional("models.intake", "photo intake")
    ctx.progress(0, 4, "reading the photo")
    photo = intake.load_photo(path)
    ctx.progress(1, 4, "finding the face")
    faces = intake.detect_faces(photo)
    face = intake.pick_face(faces, face_index, photo.name)
    ctx.progress(2, 4, "aligning")
    aligned = intake.align_face(photo, face, intake.framing_from_config(framing))
    ctx.progress(3, 4, "parsing the face")
    mask = intake.crop_mask(intake.parse_face(photo, face), aligned.transform)
    notes = [*photo.notes, *aligned.warnings]
    if len(faces) > 1:
        notes.append(f"{len(faces)} faces found; took face {face_index} (0 = largest)")
    return NewPortrait(Path(path).stem, aligned.crop, mask, None, Path(path), aligned.transform.to_dict(),
                       notes, mask)


def photo_mask_to_crop(mask: np.ndarray, transform: dict) -> np.ndarray:
    """An ID mask drawn on the whole photo (any scale of it), cropped like the photo."""
    intake = optional("models.intake", "photo intake")
    from painter.tools import resize_nearest
    aligned = intake.AlignTransform.from_dict(transform)
    width, height = aligned.source_size
    if mask.shape != (height, width):
        if abs(mask.shape[1] / mask.shape[0] - width / height) > 0.01:
            raise intake.IntakeError(f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo is "
                                     f"{width}x{height}: it belongs to another picture")
        mask = resize_nearest(mask, (height, width))
    return intake.crop_mask(mask, aligned)


# -- inversion -------------------------------------------------------------------------------
def perceptual_for(settings, ctx: JobContext) -> tuple[torch.nn.Module | None, str | None]:
    """LPIPS when the settings use it and its weights are installed; else None and why."""
    if settings.lambda_percept <= 0:
        return None, None
    lpips = optional("models.invert.lpips", "the perceptual loss")
    ctx.progress(0, 1, "loading LPIPS")
    loaded = lpips.load_lpips(settings.lpips_net, settings.lpips_version)
    if not loaded:
        return None, loaded.message
    return loaded, None


def make_inversion(gen: Generator, defaults: dict, crop: np.ndarray, ids: np.ndarray, settings,
                   start=None, geometry_only: bool = False, ctx: JobContext | None = None,
                   fitted_ids: np.ndarray | None = None):
    """An `Inversion` of a portrait (already in the model's framing) or, with `geometry_only`, the
    edit pass from `start` (PortraitCodes) towards an edited mask; `fitted_ids`, the mask `start` was
    fitted to, defines the edited region (else: where start's render differs from the edit).
    Returns (inversion, note)."""
    optimize = optional("models.invert.optimize", "inversion")
    targets = optional("models.invert.targets", "inversion")
    setup = optimize.RenderSetup.from_defaults(defaults)
    if geometry_only:
        edit = optional("models.invert.edit", "mask editing")
        return edit.edit_inversion(gen, start, ids, settings, fitted_ids, setup=setup), None
    perceptual, note = perceptual_for(settings, ctx) if ctx is not None else (None, None)
    target = targets.make_target(crop, ids, settings.size, crop="none", background_mask=True)
    progress = None if ctx is None else (lambda done, total: ctx.progress(
        done, total, "rendering the start codes (once per model)"))
    return optimize.Inversion(gen, target, settings, start=start, perceptual=perceptual, setup=setup,
                              start_progress=progress), note


@dataclass
class InversionOutcome:
    """The best codes of an inversion and, for an edit pass with a known edited region, its report
    (IoU to the edited mask inside and outside the region, before and after)."""

    best: object
    edit_report: object | None = None
    tuned: object | None = None          # TunedWeights when the tuning stage ran


def inversion_job(inversion, ctx: JobContext, start=None, fitted_ids: np.ndarray | None = None,
                  edited_ids: np.ndarray | None = None) -> InversionOutcome:
    """Run an inversion, handing every record to the UI; the best codes are kept on cancel. For an
    edit pass (`start`, `fitted_ids` and `edited_ids` given) also measure the edited region."""
    total = inversion.settings.iterations
    for record in inversion:
        if ctx.cancelled:
            inversion.cancel()
        ctx.partial(record)
        ctx.progress(record.iteration, total, "fitting the codes", check=False)   # a cancel ends the loop, keeping the best
    report = None
    if start is not None and fitted_ids is not None and edited_ids is not None:
        report = optional("models.invert.edit", "mask editing").report_for(inversion, start, fitted_ids, edited_ids)
    return InversionOutcome(inversion.best, report)


def tuning_job(gen: Generator, defaults: dict, crop: np.ndarray, ids: np.ndarray, best, settings, ctx: JobContext):
    """Tune the generator around the fitted codes (`best`, PortraitCodes), handing every record to the
    UI; a cancel ends the loop and keeps the best tuned weights so far."""
    tune = optional("models.invert.tune", "tuning")
    optimize = optional("models.invert.optimize", "inversion")
    targets = optional("models.invert.targets", "inversion")
    target = targets.make_target(crop, ids, settings.size, crop="none", background_mask=True)
    perceptual, _ = perceptual_for(settings, ctx)
    tuning = tune.Tuning(gen, target, best.effective, settings, perceptual,
                         setup=optimize.RenderSetup.from_defaults(defaults))
    for record in tuning:
        if ctx.cancelled:
            tuning.cancel()
        ctx.partial(record)
        ctx.progress(record.iteration, settings.iterations, "tuning the generator", check=False)
    return tuning.best


# -- training --------------------------------------------------------------------------------
@dataclass
class TrainingRequest:
    """A training run to start (dataset and curriculum) or to resume (run folder only)."""

    run_dir: Path
    dataset: Path | None = None
    curriculum: str | None = None
    curricula_file: Path | None = None
    init_model: Path | None = None
    max_steps: int | None = None
    resume: bool = False
    settings: dict = field(default_factory=dict)     # TrainSettings fields (log_every, preview_every, ...)


class TrainingControl:
    """Shared between the UI and the training thread: the trainer once built, and a stop flag."""

    def __init__(self) -> None:
        self.trainer = None
        self.stop_requested = False

    def stop(self) -> None:
        self.stop_requested = True
        if self.trainer is not None:
            self.trainer.request_stop()


def build_trainer(request: TrainingRequest):
    """A Trainer for a request (new run or resume), with clear errors for bad inputs."""
    from models.train.curriculum import get_curriculum
    from models.train.data import dataset_framing, segmentation_dataset_factory
    from models.train.runfolder import RunFolder
    from models.train.trainer import Trainer, TrainSettings
    if request.resume:
        config = RunFolder(request.run_dir).read_config()
        cur = config["curriculum"]
        dataset = request.dataset or Path(config["extra"]["dataset"])
        factory = segmentation_dataset_factory(dataset, cur["flip"], cur["swap_lr_on_flip"])
        settings = TrainSettings.from_dict({**config["settings"], **request.settings, "device": "cpu"})
        return Trainer.resume(request.run_dir, factory, settings, max_steps=request.max_steps)
    if request.dataset is None or request.curriculum is None:
        raise ValueError("choose a dataset folder and a curriculum to start training")
    from models.data.scan import scan_dataset
    scan_dataset(request.dataset).raise_for_problems()
    curriculum = get_curriculum(request.curriculum, request.curricula_file)
    factory = segmentation_dataset_factory(request.dataset, curriculum.flip, curriculum.swap_lr_on_flip)
    extra = {"dataset": str(Path(request.dataset).resolve()), "command": ["fenerf-studio"],
             "framing": dataset_framing(request.dataset)}
    settings = TrainSettings.from_dict({**request.settings, "device": "cpu"})
    return Trainer.start(curriculum, factory, request.run_dir, settings, init_model=request.init_model,
                         max_steps=request.max_steps, extra_config=extra)


def training_job(request: TrainingRequest, control: TrainingControl, ctx: JobContext) -> str:
    """Build the trainer and train until the end or a stop request; returns the final state."""
    ctx.progress(0, 1, "preparing the training run")
    trainer = build_trainer(request)
    control.trainer = trainer
    if control.stop_requested:
        trainer.request_stop()

    def on_step(metrics: dict) -> None:
        ctx.partial(metrics)
        if ctx.cancelled:
            trainer.request_stop()
    return trainer.run(request.max_steps, on_step)
