"""Our LPIPS against the lpips wheel's own code (with a stand-in torchvision serving the same
random backbone), plus the backbone search and the no-backbone behaviour."""
from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

from models.invert import lpips as ours


def _torchvision_stub(backbone: ours.Lpips) -> types.ModuleType:
    """A fake `torchvision.models` whose alexnet()/vgg16() return our backbone's weights."""
    def make(*_, **__):
        features = nn.Sequential(*backbone.features, nn.MaxPool2d(3, 2))   # torchvision has a last pool
        return types.SimpleNamespace(features=features)
    tv = types.ModuleType("torchvision")
    tv.models = types.SimpleNamespace(alexnet=make, vgg16=make)
    return tv


@pytest.mark.parametrize("net,version", [("alex", "0.1"), ("vgg", "0.1"), ("alex", "0.0")])
def test_matches_lpips_package(monkeypatch, net, version):
    mine = ours.Lpips.random_backbone(net, seed=3, version=version)
    monkeypatch.setitem(sys.modules, "torchvision", _torchvision_stub(mine))
    for name in [m for m in sys.modules if m == "lpips" or m.startswith("lpips.")]:
        monkeypatch.delitem(sys.modules, name)
    import lpips
    reference = lpips.LPIPS(net=net, version=version, verbose=False).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    y = (x + 0.3 * torch.randn(2, 3, 64, 64, generator=g)).clamp(-1, 1)
    with torch.no_grad():
        expected = reference(x, y).flatten()
        got = mine(x, y)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6), (got, expected)
    for name in [m for m in sys.modules if m == "lpips" or m.startswith("lpips.")]:
        del sys.modules[name]


def test_distance_properties_and_gradient():
    model = ours.Lpips.random_backbone("vgg", seed=1)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    y = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(model(x, x)) == pytest.approx(0.0, abs=1e-7)
    assert float(model(x, y)) > 0
    assert float(model(x, y)) == pytest.approx(float(model(y, x)), rel=1e-5)
    x.requires_grad_(True)
    model(x, y).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in model.parameters())


def test_missing_backbone_switches_off(monkeypatch, tmp_path):
    monkeypatch.setenv(ours.BACKBONE_ENV, str(tmp_path / "nothing.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    result = ours.load_lpips("vgg")
    assert not result and isinstance(result, ours.LpipsUnavailable)
    assert "switched off" in result.message and "vgg16-397923af.pth" in result.message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in result.message


def test_backbone_found_through_env_and_hub(monkeypatch, tmp_path):
    source = ours.Lpips.random_backbone("alex", seed=5)
    state = {f"features.{k}": v for k, v in source.features.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(2, 2)          # torchvision files hold more than features
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(state, hub / ours.BACKBONE_FILES["alex"])
    monkeypatch.delenv(ours.BACKBONE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    loaded = ours.load_lpips("alex")
    x, y = torch.rand(1, 3, 48, 48) * 2 - 1, torch.rand(1, 3, 48, 48) * 2 - 1
    assert torch.allclose(loaded(x, y), source(x, y))
    monkeypatch.setenv(ours.BACKBONE_ENV, str(tmp_path))         # a folder holding the file: also found
    (tmp_path / ours.BACKBONE_FILES["alex"]).write_bytes((hub / ours.BACKBONE_FILES["alex"]).read_bytes())
    assert ours.backbone_candidates("alex")[0] == tmp_path / ours.BACKBONE_FILES["alex"]


def test_wrong_backbone_file_is_an_error(monkeypatch, tmp_path):
    bad = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    monkeypatch.setenv(ours.BACKBONE_ENV, str(bad))
    with pytest.raises(ours.LpipsError, match="not a torchvision vgg checkpoint"):
        ours.load_lpips("vgg")
