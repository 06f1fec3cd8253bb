"""LPIPS perceptual distance without torchvision and without `import lpips`.

The backbone is torchvision's AlexNet or VGG16 `features` stack, rebuilt here with the same
layer indices so torchvision's ImageNet checkpoints (`alexnet-owt-7be5be79.pth`,
`vgg16-397923af.pth`) load by key. The linear heads are read by path from the installed `lpips`
wheel (`lpips/weights/v0.x/<net>.pth`). The backbone file is searched in `$FENERF_LPIPS_BACKBONE`,
then torch hub's cache; when it is missing `load_lpips` returns `LpipsUnavailable` (with a message
to show the user) instead of a network: a random backbone is never used silently
(`Lpips.random_backbone` exists for tests only).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

BACKBONE_ENV = "FENERF_LPIPS_BACKBONE"
BACKBONE_FILES = {"vgg": "vgg16-397923af.pth", "alex": "alexnet-owt-7be5be79.pth"}
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)

# torchvision `features` layouts: ("conv", in, out, kernel, stride, padding) | ("relu",) | ("pool", k, s)
_ALEX = [("conv", 3, 64, 11, 4, 2), ("relu",), ("pool", 3, 2), ("conv", 64, 192, 5, 1, 2), ("relu",),
         ("pool", 3, 2), ("conv", 192, 384, 3, 1, 1), ("relu",), ("conv", 384, 256, 3, 1, 1), ("relu",),
         ("conv", 256, 256, 3, 1, 1), ("relu",)]
_ALEX_TAPS = (2, 5, 8, 10, 12)          # LPIPS reads the ReLU outputs ending at these indices
_VGG_WIDTHS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
_VGG_TAPS = (4, 9, 16, 23, 30)


def _vgg_layout() -> list[tuple]:
    layers, width = [], 3
    for w in _VGG_WIDTHS:
        if w == "M":
            layers.append(("pool", 2, 2))
        else:
            layers += [("conv", width, w, 3, 1, 1), ("relu",)]
            width = w
    return layers


def _build(layout: list[tuple]) -> nn.Sequential:
    modules: list[nn.Module] = []
    for spec in layout:
        if spec[0] == "conv":
            modules.append(nn.Conv2d(spec[1], spec[2], spec[3], stride=spec[4], padding=spec[5]))
        elif spec[0] == "relu":
            modules.append(nn.ReLU(inplace=False))
        else:
            modules.append(nn.MaxPool2d(spec[1], spec[2]))
    return nn.Sequential(*modules)


NETS = {"alex": (_ALEX, _ALEX_TAPS, (64, 192, 384, 256, 256)),
        "vgg": (_vgg_layout(), _VGG_TAPS, (64, 128, 256, 512, 512))}


class LpipsError(RuntimeError):
    """A backbone or head file that exists but cannot be used."""


@dataclass(frozen=True)
class LpipsUnavailable:
    """What `load_lpips` returns when the backbone weights are absent: the perceptual term is off."""

    message: str

    def __bool__(self) -> bool:
        return False


class Lpips(nn.Module):
    """d(x, y) for images (B, 3, H, W) in [-1, 1]; returns (B,). Frozen; gradients reach the inputs."""

    def __init__(self, net: str = "vgg", version: str = "0.1"):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"unknown LPIPS backbone {net!r}; choose from {sorted(NETS)}")
        if version not in ("0.0", "0.1"):
            raise ValueError(f"unknown LPIPS version {version!r}; choose 0.0 or 0.1")
        layout, self.taps, widths = NETS[net]
        self.net, self.version = net, version
        self.features = _build(layout[:self.taps[-1]])
        self.heads = nn.ModuleList(nn.Conv2d(w, 1, 1, bias=False) for w in widths)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def load_heads(self, path: str | Path | None = None) -> None:
        """Linear heads from the lpips wheel (or a given `.pth` with keys `lin<k>.model.1.weight`)."""
        path = Path(path) if path else heads_path(self.net, self.version)
        state = _torch_load(path)
        for k, head in enumerate(self.heads):
            key = f"lin{k}.model.1.weight"
            if key not in state or tuple(state[key].shape) != tuple(head.weight.shape):
                raise LpipsError(f"{path}: missing or mis-shaped LPIPS head {key}")
            head.weight.data.copy_(state[key])

    def load_backbone(self, path: str | Path) -> None:
        """torchvision ImageNet weights for this backbone (`features.<i>.weight/bias` keys)."""
        state = _torch_load(Path(path))
        own = self.features.state_dict()
        missing = [f"features.{k}" for k in own if f"features.{k}" not in state]
        if missing:
            raise LpipsError(f"{path}: not a torchvision {self.net} checkpoint (missing {missing[0]})")
        for key, value in own.items():
            src = state[f"features.{key}"]
            if src.shape != value.shape:
                raise LpipsError(f"{path}: features.{key} has shape {tuple(src.shape)}, expected {tuple(value.shape)}")
            value.copy_(src)

    @classmethod
    def random_backbone(cls, net: str = "vgg", seed: int = 0, version: str = "0.1") -> "Lpips":
        """FOR TESTS ONLY: real heads, randomly initialised backbone (not a perceptual metric)."""
        torch_rng = torch.random.get_rng_state()
        torch.manual_seed(seed)
        model = cls(net, version)
        torch.random.set_rng_state(torch_rng)
        model.load_heads()
        return model.frozen()

    def frozen(self) -> "Lpips":
        self.requires_grad_(False)
        return self.eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.version == "0.1":
            x, y = (x - self.shift) / self.scale, (y - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        start = 0
        for tap, head in zip(self.taps, self.heads):
            for layer in self.features[start:tap]:
                x, y = layer(x), layer(y)
            start = tap
            diff = (_unit(x) - _unit(y)) ** 2
            total = total + head(diff).mean(dim=(1, 2, 3))
        return total


def _unit(features: torch.Tensor) -> torch.Tensor:
    return features / (torch.sqrt((features ** 2).sum(1, keepdim=True)) + 1e-10)


def _torch_load(path: Path) -> dict:
    if not path.is_file():
        raise LpipsError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one clear error
        raise LpipsError(f"{path}: unreadable weights ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise LpipsError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def heads_path(net: str, version: str = "0.1") -> Path:
    """The lin-head file shipped in the installed lpips wheel (found without importing lpips)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise LpipsError("the lpips package is not installed (pip install --no-deps lpips==0.1.4)")
    return Path(list(spec.submodule_search_locations)[0]) / "weights" / f"v{version}" / f"{net}.pth"


def backbone_candidates(net: str) -> list[Path]:
    """Where the backbone file is looked for, in order."""
    places = []
    env = os.environ.get(BACKBONE_ENV)
    if env:
        p = Path(env).expanduser()
        places.append(p / BACKBONE_FILES[net] if p.is_dir() else p)
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    places.append(hub / "hub" / "checkpoints" / BACKBONE_FILES[net])
    return places


def load_lpips(net: str = "vgg", version: str = "0.1", device: str | torch.device = "cpu"
               ) -> Lpips | LpipsUnavailable:
    """The real LPIPS, or `LpipsUnavailable` explaining where the backbone file was looked for.
    A file that is found but unusable raises `LpipsError` (never silently ignored)."""
    if net not in BACKBONE_FILES:
        raise ValueError(f"unknown LPIPS backbone {net!r}; choose from {sorted(BACKBONE_FILES)}")
    places = backbone_candidates(net)
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        where = ", ".join(str(p) for p in places)
        return LpipsUnavailable(
            f"LPIPS perceptual loss switched off: backbone weights {BACKBONE_FILES[net]} not found "
            f"(looked in: {where}). Place the torchvision file there or set {BACKBONE_ENV} to it.")
    model = Lpips(net, version)
    model.load_heads()
    model.load_backbone(found)
    return model.frozen().to(device)
