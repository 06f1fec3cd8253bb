"""Errors raised by photo intake, each carrying one line for the user."""
from __future__ import annotations


class IntakeError(ValueError):
    """Base class: a photo that cannot be read, aligned or parsed."""


class PhotoError(IntakeError):
    """The file is missing, corrupt, truncated, too large or not an image."""


class NoFaceError(IntakeError):
    """No face was found in the photo."""
