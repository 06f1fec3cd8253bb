"""Automatic 19-class mask of a portrait, in the photo's own pixel frame.

Work happens in an upright "parse frame": the face aligned to the CelebA-HQ square enlarged
`PARSE_ZOOM` times, at `PARSE_SIZE` pixels. There:

* face parts (brows, eyes, nose, lips, inner mouth) are landmark polygons (`models.intake.parts`);
* person vs background comes from mediapipe's selfie segmentation, minus a fringe of
  background-coloured pixels the segmenter gave to the person;
* per-pixel features are CIELAB colour plus a texture term (log gradient energy); a Gaussian
  fitted on the cheeks says what is skin, one fitted above and beside the head what is hair;
* skin is the face oval grown over skin-like pixels (forehead, temples) minus fringe hair;
  ears are skin-like pixels reaching out beside the cheeks at eye-to-nose height; neck is
  what lies under the jaw; the rest of the person is hair on the head and hair-like strands
  joined to it, cloth below the chin, and bare skin below the chin is background (CelebAMask-HQ
  has no body-skin class).

The labels go back to the photo with nearest sampling; photo pixels beyond the parse frame get
a coarse background / hair / cloth split from a whole-photo selfie pass.
"""
from __future__ import annotations

import cv2
import numpy as np

from models import labels
from models.intake import mp_models
from models.intake.align import face_transform
from models.intake.detect import Face
from models.intake.framing import Framing
from models.intake.image_io import Photo
from models.intake.parts import FaceGeometry, coarse_parts, mesh_parts
from models.intake.warping import for_pixels, warp

PARSE_SIZE = 640
PARSE_ZOOM = 1.5
PERSON = 0.5                 # selfie-segmentation probability above which a pixel is the person
_SKIN_LIMIT = 12.0           # Mahalanobis^2 within which a colour is skin-like
_HAIR_LIMIT = 12.0
_MIN_SAMPLES = 200           # fewest pixels a colour model is fitted on
_LIGHTING = np.array([10.0, 2.0, 2.0, 0.1]) ** 2   # variance added to (L, a, b, texture) for shading

ID = labels.ID


def parse_face(photo: Photo, face: Face) -> np.ndarray:
    """19-class ID mask (height, width) uint8 of `face`, in the photo frame (`photo.size`)."""
    transform = face_transform(face, Framing.celeba_hq().rescaled(PARSE_ZOOM), photo.size, PARSE_SIZE)
    to_frame = for_pixels(transform.matrix, photo)              # working px -> frame px
    frame_size = (PARSE_SIZE, PARSE_SIZE)
    frame = warp(photo.rgb, to_frame, frame_size, border=cv2.BORDER_CONSTANT)
    inside = warp(np.ones(photo.rgb.shape[:2], np.uint8), to_frame, frame_size, nearest=True,
                  border=cv2.BORDER_CONSTANT) > 0
    if face.landmarks is not None:
        oval, parts, geometry = mesh_parts(transform.to_crop(face.landmarks[:, :2]), PARSE_SIZE)
    else:
        oval, parts, geometry = coarse_parts(transform.to_crop(face.eyes), transform.to_crop(face.mouth), PARSE_SIZE)
    ids = label_frame(frame, mp_models.person(frame), inside, oval, parts, geometry)
    back = transform.inverse()                                    # frame px -> photo px
    mask = warp(ids, back, photo.size, nearest=True, border=cv2.BORDER_CONSTANT)
    width, height = photo.size
    corners = transform.to_crop(np.array([[0, 0], [width, 0], [0, height], [width, height]], float))
    if corners.min() < 0 or corners.max() > PARSE_SIZE:          # the photo reaches beyond the frame
        covered = warp(np.ones_like(ids), back, photo.size, nearest=True, border=cv2.BORDER_CONSTANT) > 0
        chin = transform.to_photo(np.array([[geometry.centre_x, geometry.chin_y]]))[0]
        down = back[:, :2] @ np.array([0.0, 1.0])
        mask = np.where(covered, mask, _coarse_outside(photo, chin, down))
    return mask


def _coarse_outside(photo: Photo, chin: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Background / hair / cloth over the whole photo from one low-resolution selfie pass:
    person pixels below the chin line (photo-frame `chin` point, face's `down` direction) are
    cloth, above it hair."""
    shrink = min(1.0, 512 / max(photo.rgb.shape[:2]))
    small = cv2.resize(photo.rgb, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA) if shrink < 1 else photo.rgb
    person = mp_models.person(small) > PERSON
    to_photo = np.array(photo.size) / np.array(small.shape[1::-1])
    ys = ((np.arange(small.shape[0], dtype=np.float32) + 0.5) * to_photo[1] - chin[1])[:, None]
    xs = ((np.arange(small.shape[1], dtype=np.float32) + 0.5) * to_photo[0] - chin[0])[None, :]
    below = xs * down[0] + ys * down[1] > 0
    labels_small = np.where(person, np.where(below, ID["cloth"], ID["hair"]), ID["background"]).astype(np.uint8)
    return cv2.resize(labels_small, tuple(photo.size), interpolation=cv2.INTER_NEAREST)


def _features(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel (L, a, b, texture): CIELAB colour and the log of the local gradient energy,
    which separates smooth skin from stranded hair of a similar colour."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    grey = lab[..., 0]
    gradient = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    texture = np.log1p(cv2.blur(gradient, (5, 5)))
    return np.concatenate([lab, texture[..., None]], axis=2)


class _Gaussian:
    """A Gaussian over the per-pixel features with shading tolerance."""

    def __init__(self, samples: np.ndarray) -> None:
        mean = samples.mean(0)
        cov = np.cov(samples, rowvar=False) + np.diag(_LIGHTING)
        # whitening: |W (x - mean)|^2 is the squared Mahalanobis distance
        whiten = np.linalg.cholesky(np.linalg.inv(cov)).T
        self.affine = np.column_stack([whiten, -whiten @ mean]).astype(np.float32)
        self.log_det = float(np.linalg.slogdet(cov)[1])

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of (..., 4) features (per-pixel SIMD, no BLAS threads)."""
        flat = np.ascontiguousarray(features, dtype=np.float32).reshape(-1, 1, features.shape[-1])
        white = cv2.transform(flat, self.affine)
        total = cv2.transform(cv2.multiply(white, white), np.ones((1, white.shape[-1]), np.float32))
        return total.reshape(features.shape[:-1])


def _components_touching(candidates: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The connected components of `candidates` that overlap `seed`."""
    count, comp = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(candidates)
    hit = np.zeros(count, bool)
    hit[np.unique(comp[seed & candidates])] = True
    hit[0] = False
    return hit[comp]


def _clean(binary: np.ndarray, radius: int = 2) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    opened = cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel).astype(bool)


def _dilate(binary: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(binary.astype(np.uint8), kernel).astype(bool)


def _hair_model(features: np.ndarray, candidates: np.ndarray, above: np.ndarray,
                beside: np.ndarray) -> _Gaussian | None:
    """Hair colour from above the head, widened with consistent samples from beside it."""
    top, side = candidates & above, candidates & beside
    if top.sum() < _MIN_SAMPLES:
        return _Gaussian(features[side]) if side.sum() >= _MIN_SAMPLES else None
    model = _Gaussian(features[top])
    consistent = features[side][model.distance(features[side]) < 2 * _HAIR_LIMIT]
    return _Gaussian(np.concatenate([features[top], consistent]))


def _colour_masks(lab: np.ndarray, person: np.ndarray, background: np.ndarray, cheeks: np.ndarray,
                  protected: np.ndarray, above_head: np.ndarray, beside_head: np.ndarray):
    """(person, skin-like, hair-like, skin distance): colour classes of the person's pixels, and
    the person mask with the segmenter's background-coloured fringe removed."""
    skin_model = _Gaussian(lab[cheeks])
    d_skin = skin_model.distance(lab)
    hair_model = _hair_model(lab, person & (d_skin > _SKIN_LIMIT), above_head, beside_head)
    if hair_model is None:
        return person, _clean(person & (d_skin < _SKIN_LIMIT)), np.zeros_like(person), d_skin
    d_hair = hair_model.distance(lab)
    skin_like = (d_skin < _SKIN_LIMIT) & (d_skin + skin_model.log_det < d_hair + hair_model.log_det)
    hair_like = (d_hair < _HAIR_LIMIT) & ~skin_like
    if background.sum() > _MIN_SAMPLES:
        bg_model = _Gaussian(lab[background])
        candidates = person & ~skin_like & ~protected
        d_bg = bg_model.distance(lab[candidates])
        bg_like = np.zeros_like(candidates)
        bg_like[candidates] = (d_bg < _SKIN_LIMIT) & (d_bg + bg_model.log_det < d_hair[candidates] + hair_model.log_det)
        person = person & ~_components_touching(_clean(bg_like), _dilate(background, 2))
    return person, _clean(skin_like & person), _clean(hair_like & person), d_skin


def _ears(skin_like: np.ndarray, g: FaceGeometry, ys: np.ndarray, xs: np.ndarray, unit: float) -> np.ndarray:
    """Ear ids: skin-coloured pixels reaching out beside each cheek, between eye and nose-base height."""
    band = (ys > g.eye_y - 0.15 * unit) & (ys < g.eye_y + 0.6 * unit)
    ears = np.zeros(skin_like.shape, np.uint8)
    for (cx, _), side_id in ((g.cheeks[0], ID["r_ear"]), (g.cheeks[1], ID["l_ear"])):
        reach = (xs - cx) * np.sign(cx - g.centre_x)                   # outward from the cheek
        zone = band & (reach > -0.04 * g.half_width) & (reach < 0.3 * g.half_width)
        ears[_components_touching(skin_like & zone, zone & (reach > 0.04 * g.half_width))] = side_id
    return ears


def label_frame(rgb: np.ndarray, person_prob: np.ndarray, inside: np.ndarray, oval: np.ndarray,
                parts: np.ndarray, g: FaceGeometry) -> np.ndarray:
    """The 19-class labelling of one upright parse frame (see the module docstring).

    `person_prob` is the selfie segmentation, `inside` marks frame pixels that lie in the photo.
    """
    size = rgb.shape[0]
    lab = _features(rgb)
    ys = (np.arange(size, dtype=np.float32) + 0.5)[:, None]
    xs = (np.arange(size, dtype=np.float32) + 0.5)[None, :]
    offset = np.abs(xs - g.centre_x)
    unit = g.mouth_y - g.eye_y                     # eye-to-mouth distance: the face's yardstick
    feature_zone = _dilate(parts > 0, max(2, round(0.04 * unit)))
    person = (person_prob > PERSON) & inside
    cheeks = oval & ~feature_zone & person & (ys > g.eye_y) & (ys < g.mouth_y)
    if cheeks.sum() < _MIN_SAMPLES:
        cheeks = oval & ~feature_zone
    person, skin_like, hair_like, d_skin = _colour_masks(
        lab, person, inside & (person_prob < 0.1), cheeks, _dilate(oval | (parts > 0), 3),
        above_head=(ys < g.top_y - 0.6 * unit) & (ys > g.top_y - 1.4 * unit) & (offset < 0.8 * g.half_width),
        beside_head=(ys > g.top_y) & (ys < g.chin_y) & (offset > 1.2 * g.half_width) & (offset < 1.6 * g.half_width))
    ear_ids = _ears(skin_like, g, ys, xs, unit)
    ears = ear_ids > 0

    # skin: the oval, grown over skin-coloured pixels of forehead and temples, minus fringe hair
    head = (ys < g.mouth_y) & (offset < 1.15 * g.half_width) & (ys > g.top_y - unit)
    grown = _components_touching((skin_like & head & ~ears) | oval, oval)
    bangs = oval & hair_like & (ys < g.brow_y) & ~feature_zone
    skin = (grown | oval) & ~bangs

    # neck: under the jaw, in the neck column unless hair-coloured, or skin-coloured and joined
    jaw = np.where(oval.any(0), size - 1 - np.argmax(oval[::-1], axis=0), size).astype(np.float32)[None, :]
    under_jaw = (ys > jaw) & (ys > g.mouth_y) & person & ~skin
    column = under_jaw & (offset < 0.55 * g.half_width) & (ys < g.chin_y + 1.2 * unit) \
        & ~hair_like & (d_skin < 4 * _SKIN_LIMIT)
    neck = _components_touching(column | (skin_like & under_jaw), column)

    # the rest of the person: hair on the head and hair-coloured strands joined to it; below
    # the chin cloth, except bare skin (CelebAMask-HQ has no body-skin class: background)
    rest = person & ~skin & ~ears & ~neck
    head_hair = rest & (ys < g.mouth_y) & (offset < 1.6 * g.half_width)
    lower = rest & (ys > g.chin_y) & ~(head_hair | _components_touching(rest & hair_like, head_hair))
    ids = np.full(parts.shape, ID["background"], np.uint8)
    ids[rest] = ID["hair"]
    ids[lower] = ID["cloth"]
    ids[lower & skin_like] = ID["background"]
    ids[neck] = ID["neck"]
    ids[skin] = ID["skin"]
    ids[ears] = ear_ids[ears]
    ids[parts > 0] = parts[parts > 0]
    return ids
