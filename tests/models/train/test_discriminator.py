"""The discriminator against the official key/shape tables (shared spec) and its progressive input."""
import re

import pytest
import torch

from models.train.discriminator import CCSDoubleEncoderDiscriminator, start_layer
from tests.conftest import shared_dir


def official_table(title_start: str) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) rows of one discriminator table in state-dict-keys.md."""
    text = (shared_dir() / "spec" / "state-dict-keys.md").read_text()
    section = text.split(f"## {title_start}", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| \d+ \| `([^`]+)` \| \(([\d, ]+)\) \|", section, flags=re.M)
    return [(key, tuple(int(v) for v in shape.split(",") if v.strip())) for key, shape in rows]


@pytest.mark.parametrize("channels,title", [(3, "Image discriminator"), (21, "Semantic discriminator")])
def test_official_names_order_and_shapes(channels, title):
    expected = official_table(title)
    assert len(expected) == 60
    d = CCSDoubleEncoderDiscriminator(channels)
    ours = [(k, tuple(v.shape)) for k, v in d.state_dict().items()]
    assert ours == expected
    assert [k for k, _ in d.named_parameters()] == [k for k, _ in expected]


def test_coordinate_planes_rows_then_columns():
    d = CCSDoubleEncoderDiscriminator(3, 4, 4, widths=(4,) * 8)
    planes = d.layers[0].network[0].addcoords(torch.zeros(1, 1, 4, 5))
    assert torch.allclose(planes[0, 1, :, 0], torch.linspace(-1, 1, 4))     # varies down the rows
    assert torch.allclose(planes[0, 1, 0, :], torch.full((5,), -1.0))
    assert torch.allclose(planes[0, 2, 0, :], torch.linspace(-1, 1, 5))     # varies along columns


def test_outputs_split_and_progressive_sizes():
    torch.manual_seed(0)
    d = CCSDoubleEncoderDiscriminator(21, 7, 5, widths=(4, 8, 8, 8, 8, 8, 8, 8))
    for size in (16, 32, 64):
        logit, z_geo, z_app, pose = d(torch.randn(2, 21, size, size), alpha=0.5)
        assert logit.shape == (2, 1) and z_geo.shape == (2, 7) and z_app.shape == (2, 5) and pose.shape == (2, 2)
    with pytest.raises(ValueError, match="power of two"):
        d(torch.randn(1, 21, 24, 24), 1.0)
    assert [start_layer(s) for s in (256, 128, 64, 32, 16, 8, 4, 2)] == list(range(8))


def test_fade_in_blends_the_half_resolution_adapter():
    torch.manual_seed(0)
    d = CCSDoubleEncoderDiscriminator(3, 4, 4, widths=(4, 8, 8, 8, 8, 8, 8, 8))
    x = torch.randn(2, 3, 32, 32)
    s = start_layer(32)
    with torch.no_grad():
        before = {a: d(x, a)[0].clone() for a in (0.0, 1.0)}
        d.fromRGB[s].model[0].weight.add_(1.0)          # the full-resolution path
        after = {a: d(x, a)[0].clone() for a in (0.0, 1.0)}
    assert torch.equal(before[0.0], after[0.0])          # alpha 0: only the half-resolution adapter counts
    assert not torch.allclose(before[1.0], after[1.0])
    with torch.no_grad():
        d.fromRGB[s + 1].model[0].weight.add_(1.0)
        assert torch.equal(d(x, 1.0)[0], after[1.0])     # alpha 1: the extra adapter is unused
