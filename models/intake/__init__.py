"""Photo intake: read a portrait, find its faces, align one to a model's framing, parse a mask.

Typical use (the CLI's `fenerf align` / `fenerf parse` and the app do exactly this)::

    photo = load_photo("me.jpg")                 # upright 8-bit RGB, clear errors on bad files
    faces = detect_faces(photo)                  # largest first; each with its warnings
    face = pick_face(faces, 0, photo.name)       # NoFaceError when there is none
    aligned = align_face(photo, face, read_model_framing(checkpoint))   # or framing_from_config(model.framing)
    mask = parse_face(photo, face)               # 19-class ids in the photo's pixel frame
    crop_ids = crop_mask(mask, aligned.transform)
    result = paste_back(original_rgb, edited_crop, aligned.transform)

Every coordinate, transform and mask is expressed in the photo frame: the upright (EXIF
applied) photo at full resolution. Left/right labels follow CelebAMask-HQ: `l_*` is the
subject's left, which appears on the image's right in a non-mirrored photo. mediapipe models
load on first use; `close_models()` frees them (also done at exit).
"""
from __future__ import annotations

from models.intake.align import Aligned, AlignTransform, align_face, crop_mask, face_transform, paste_back
from models.intake.detect import Face, detect_faces, pick_face
from models.intake.errors import IntakeError, NoFaceError, PhotoError
from models.intake.framing import Framing, framing_by_name, framing_from_config, read_model_framing
from models.intake.image_io import Photo, load_mask, load_photo, photo_from_array
from models.intake.mp_models import close as close_models
from models.intake.parse import parse_face

__all__ = [
    "Aligned", "AlignTransform", "Face", "Framing", "IntakeError", "NoFaceError", "Photo", "PhotoError",
    "align_face", "close_models", "crop_mask", "detect_faces", "face_transform", "framing_by_name",
    "framing_from_config", "load_mask", "load_photo", "parse_face", "paste_back", "photo_from_array", "pick_face",
    "read_model_framing",
]
