"""Where a model expects the face inside its square input: a `Framing`, part of a model's config.

A framing is the target of alignment, written in fractions of the output square's side:
`eye_mid` and `mouth_mid` are where the eye midpoint and the mouth midpoint of a face land,
and `eye_dist`, if set, is the largest eye-to-eye distance allowed. Given a face (eye centres
e_r, e_l and mouth corners), alignment (`models.intake.align`) builds the similarity that

* rolls the face upright, using FFHQ's steadied eye line x = (e_l - e_r) - rot90(m - e)
  (e, m: eye and mouth midpoints; rot90(v) = (-v_y, v_x) in image coordinates, y down),
  sent to the direction perpendicular to the target's eye-to-mouth vector;
* scales so the output side spans L = max(|m - e| / |mouth_mid - eye_mid|, |e_l - e_r| / eye_dist)
  photo pixels (the second term only when `eye_dist` is set);
* sends the anchor e + 0.1 (m - e) to eye_mid + 0.1 (mouth_mid - eye_mid).

A face with the framing's own proportions lands with its eye and mouth midpoints exactly on
`eye_mid` and `mouth_mid`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from models.intake.errors import IntakeError

ANCHOR = 0.1   # FFHQ/CelebA-HQ centre the crop on e + 0.1 (m - e)


@dataclass(frozen=True)
class Framing:
    """Target positions (fractions of the output side) of the eye and mouth midpoints."""

    eye_mid: tuple[float, float]
    mouth_mid: tuple[float, float]
    eye_dist: float | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        ex, ey = self.eye_mid
        mx, my = self.mouth_mid
        if (mx - ex) ** 2 + (my - ey) ** 2 < 1e-6:
            raise IntakeError(f"framing {self.name!r}: eye and mouth targets coincide")
        if self.eye_dist is not None and not self.eye_dist > 0:
            raise IntakeError(f"framing {self.name!r}: eye_dist must be positive, got {self.eye_dist}")

    @classmethod
    def from_landmarks(cls, eye_mid: tuple[float, float], mouth_mid: tuple[float, float],
                       eye_dist: float | None = None, name: str = "custom") -> "Framing":
        """A framing from where a dataset's faces put their eye and mouth midpoints (fractions)."""
        return cls((float(eye_mid[0]), float(eye_mid[1])), (float(mouth_mid[0]), float(mouth_mid[1])),
                   None if eye_dist is None else float(eye_dist), name)

    @classmethod
    def celeba_hq(cls) -> "Framing":
        """The full CelebA-HQ / FFHQ square of spec 14.2 (the photo the datasets ship).

        The recipe crops a square of side 2 |x| centred at c = e + 0.1 (m - e), where |x| is
        max(2 |e_l - e_r|, 1.8 |m - e|). In fractions of the side: the eye distance is at most
        2/4 / 2 = 1/4 and the eye-mouth distance at most 1/3.6. The average frontal face has
        |m - e| / |e_l - e_r| of about 1.15 (e.g. the common 5-point frontal template gives
        1.154), above the 2/1.8 = 1.11 where the terms balance, so the mouth term sets the size:
        |m - e| = 1/3.6 of the side. With c at the centre (0.5, 0.5):
        eye_mid = (0.5, 0.5 - 0.1/3.6) = (0.5, 0.47222), mouth_mid = (0.5, 0.5 + 0.9/3.6) =
        (0.5, 0.75). Keeping eye_dist = 1/4 makes the max() rule exactly the recipe's for every
        face, whichever term dominates.
        """
        return cls((0.5, 0.5 - ANCHOR / 3.6), (0.5, 0.5 + (1 - ANCHOR) / 3.6), 0.25, "celeba-hq")

    @classmethod
    def celeba(cls) -> "Framing":
        """What the official FENeRF models saw: the central 256/320 = 0.8 of a CelebA-HQ square
        (spec 9.2: resize the shorter side to 320, centre-crop 256). Result: eye_mid (0.5, 0.46528),
        mouth_mid (0.5, 0.8125), eye_dist 0.3125."""
        return cls.celeba_hq().rescaled(256 / 320, "celeba")

    def rescaled(self, factor: float, name: str | None = None) -> "Framing":
        """The same framing in a square `factor` times as wide, about the same centre."""
        def move(p: tuple[float, float]) -> tuple[float, float]:
            return (0.5 + (p[0] - 0.5) / factor, 0.5 + (p[1] - 0.5) / factor)

        return Framing(move(self.eye_mid), move(self.mouth_mid),
                       None if self.eye_dist is None else self.eye_dist / factor,
                       name or f"{self.name}x{factor:g}")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (stored in a model's config under "framing")."""
        return {"name": self.name, "eye_mid": list(self.eye_mid), "mouth_mid": list(self.mouth_mid),
                "eye_dist": self.eye_dist}

    @classmethod
    def from_dict(cls, data: dict) -> "Framing":
        """Inverse of `to_dict`; raises `IntakeError` on a malformed dict."""
        try:
            return cls.from_landmarks(tuple(data["eye_mid"]), tuple(data["mouth_mid"]),
                                      data.get("eye_dist"), str(data.get("name", "custom")))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise IntakeError(f"malformed framing {data!r}: {exc}") from None


NAMED = {"celeba": Framing.celeba, "celeba-hq": Framing.celeba_hq}


def framing_by_name(name: str) -> Framing:
    """A framing by name: "celeba" (the official models' input) or "celeba-hq" (the full square)."""
    try:
        return NAMED[name]()
    except KeyError:
        raise IntakeError(f"unknown framing {name!r} (known: {', '.join(NAMED)})") from None


def framing_from_config(framing: dict | None) -> Framing:
    """The framing stored in a model's config (`LoadedModel.framing`); None means CelebA."""
    return Framing.celeba() if framing is None else Framing.from_dict(framing)


def read_model_framing(model: str | os.PathLike | None) -> Framing:
    """The framing a checkpoint was trained with, read from the file's config.

    `.fenerf` models carry it in their embedded config (`"framing"`, None for CelebA-trained
    ones); a `.json` file is read as such a config; official checkpoints (`.pth`) and no
    model at all mean `Framing.celeba()`.
    """
    if model is None:
        return Framing.celeba()
    path = Path(model)
    if not path.is_file():
        raise IntakeError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    if suffix == ".fenerf":
        from models.io.errors import CheckpointError
        from models.io.native import read_tensors
        try:
            config = read_tensors(path)[1]
        except CheckpointError as exc:
            raise IntakeError(str(exc)) from None
    elif suffix == ".json":
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IntakeError(f"{path}: unreadable model config ({exc})") from None
    else:
        return Framing.celeba()
    if not isinstance(config, dict) or not isinstance(config.get("framing", {}), (dict, type(None))):
        raise IntakeError(f"{path}: the model config's 'framing' is not a dict")
    return framing_from_config(config.get("framing"))
