"""Multiview renders: the official views, direct or baked, cancellable."""
import math

import numpy as np
import pytest

from models.export.common import ExportCancelled
from models.export.multiview import grids, official_views, render_views, save_views
from models.field.latents import codes_for_seeds
from models.render.options import RenderOptions


def test_official_views_and_baked_renders(tmp_path, model_b):
    views = official_views()
    assert [y - math.pi / 2 for y, _ in views] == pytest.approx([-0.5, -0.25, 0, 0.25, 0.5])
    codes = codes_for_seeds(model_b, [3], 0.7)
    steps = []
    results = render_views(model_b, codes, RenderOptions(img_size=10, num_steps=6), bake_resolution=16,
                           progress=lambda d, t: steps.append((d, t)))
    assert steps == [(i, 5) for i in range(1, 6)]
    rgb, seg = grids(results)
    assert rgb.shape == seg.shape == (10, 50, 3)
    assert not np.array_equal(rgb[:, :10], rgb[:, 40:])          # the views differ
    written = save_views(results, tmp_path, "face")
    assert len(written) == 5 * 3 + 2 and all(p.exists() for p in written)


def test_cancel_stops_between_views(model_b):
    codes = codes_for_seeds(model_b, [3], 0.7)
    seen = []
    with pytest.raises(ExportCancelled):
        render_views(model_b, codes, RenderOptions(img_size=8, num_steps=4),
                     progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) >= 2)
    assert seen == [1, 2]
