"""OrbitSession: levels replace each other in order, cancelling keeps the last one, frames work."""
import pytest
import torch

from models.bake.camera import OrbitCamera
from models.bake.lattice import BakeCancelled
from models.bake.progressive import OrbitSession
from models.bake.volume import BakeBudgetError
from models.field.latents import codes_for_seeds


def test_refine_goes_through_the_levels_and_frames_follow(face_b):
    gen, codes, _ = face_b
    session = OrbitSession(gen, codes)
    assert not session.ready
    with pytest.raises(RuntimeError, match="no bake"):
        session.frame()
    levels, progress, frames = [], [], []
    session.refine(levels=(16, 24), progress=lambda d, t: progress.append((d, t)),
                   on_level=lambda r: (levels.append(r), frames.append(session.frame(OrbitCamera(), 16))))
    assert levels == [16, 24] and session.resolution == 24
    assert [d for d, _ in progress] == sorted(d for d, _ in progress) and progress[-1] == (42, 42)
    assert all(f.image.shape == (1, 22, 16, 16) for f in frames)
    assert not torch.equal(frames[0].image, frames[1].image)
    session.refine(levels=(16, 24))                           # nothing above 24: no work
    assert session.resolution == 24


def test_cancel_keeps_the_last_finished_level(face_b):
    gen, codes, _ = face_b
    session = OrbitSession(gen, codes)
    session.bake(16)
    before = session.volume
    with pytest.raises(BakeCancelled):
        session.refine(levels=(24,), cancel=lambda: True)
    assert session.volume is before and session.resolution == 16
    assert session.frame(size=8).mask.shape == (1, 8, 8)


def test_budget_errors_surface_and_geometry_pass_is_shared_only_for_the_same_geometry(face_b):
    gen, codes, _ = face_b
    first = OrbitSession(gen, codes, budget=1 << 20)
    with pytest.raises(BakeBudgetError):
        first.bake(64)
    other = codes_for_seeds(gen, [5], 0.7)
    recoloured = OrbitSession(gen, codes.with_appearance_of(other), reuse_geometry_from=first)
    assert recoloured.occupancy() is first.occupancy()
    reshaped = OrbitSession(gen, other.with_appearance_of(codes), reuse_geometry_from=first)
    assert reshaped.occupancy() is not first.occupancy()
    with pytest.raises(ValueError, match="one face"):
        OrbitSession(gen, codes_for_seeds(gen, [1, 2], 0.7))
