"""A portrait's tuned generator weights: the tensors the tuning stage moved, stored next to its codes.

File format (`.ftune`): the tensors in our safetensors layout (`models/io/native.py`: float32,
finite values, sizes checked against the header, never unpickled) with a JSON header naming the
kind, the parameter groups and a digest of the untuned model they belong to. Loading validates
every name and shape against the generator they are applied to, and refuses weights made for
another model, so a tuned portrait cannot silently change a different model.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from models.field.generator import Generator
from models.io.errors import CheckpointError
from models.io.native import read_tensors, save_tensors

SUFFIX = ".ftune"
KIND = "tuned-weights"
MAX_FILE_BYTES = 512 * 2 ** 20          # an official-size generator is ~125 MB; more is not a tuning file
# parameter-name prefixes of each group the tuning may move
PART_PREFIXES = {
    "mapping": ("siren.geo_mapping_network.", "siren.app_mapping_network."),
    "trunk": ("siren.network.",),
    "density": ("siren.final_layer.",),
    "labels": ("siren.label_layer_linear.",),
    "texture": ("siren.color_layer_sine.", "siren.color_layer_linear."),
    "grid": ("siren.spatial_embeddings",),
}


def part_parameters(generator: Generator, parts: tuple[str, ...] | list[str]) -> dict[str, torch.nn.Parameter]:
    """The generator's parameters of the named groups, by state-dict name (official order)."""
    prefixes = tuple(p for part in parts for p in PART_PREFIXES[part])
    return {name: p for name, p in generator.named_parameters() if name.startswith(prefixes)}


def model_digest(generator: Generator) -> str:
    """A digest of every weight of the (untuned) generator, to tie tuned weights to their model."""
    digest = hashlib.sha256()
    for name, tensor in generator.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


@dataclass
class TunedWeights:
    """Tuned tensors by state-dict name and a JSON-able `info` (parts, metrics, the model digest)."""

    tensors: dict[str, torch.Tensor]
    info: dict = field(default_factory=dict)

    def check_fits(self, generator: Generator, source: str = "tuned weights") -> None:
        """Raise ValueError unless every tensor names a parameter of `generator` with its shape."""
        own = dict(generator.named_parameters())
        for name, tensor in self.tensors.items():
            if name not in own:
                raise ValueError(f"{source}: {name} is not a parameter of this model")
            if tuple(tensor.shape) != tuple(own[name].shape):
                raise ValueError(f"{source}: {name} has shape {tuple(tensor.shape)}, the model's is "
                                 f"{tuple(own[name].shape)} (weights of another model?)")
        recorded = self.info.get("model_digest")
        if recorded is not None and recorded != model_digest(generator):
            raise ValueError(f"{source}: tuned for another model (digest {recorded}); open the model it was "
                             "tuned from, or invert again with this one")

    def apply_to(self, generator: Generator) -> None:
        """Copy the tuned tensors into `generator` in place (after `check_fits`)."""
        self.check_fits(generator)
        own = dict(generator.named_parameters())
        with torch.no_grad():
            for name, tensor in self.tensors.items():
                own[name].copy_(tensor.to(own[name].device))
        generator.forget_average()

    def applied(self, generator: Generator) -> Generator:
        """A copy of `generator` carrying these weights (the original is untouched)."""
        tuned = copy.deepcopy(generator)
        self.apply_to(tuned)
        tuned.forget_average()
        return tuned

    def for_model(self, generator: Generator) -> "TunedWeights":
        """These weights with the untuned model's digest recorded (call with the untuned generator)."""
        return TunedWeights(self.tensors, {**self.info, "model_digest": model_digest(generator)})

    def equal(self, other: "TunedWeights") -> bool:
        """Bit-identical tensors under the same names."""
        return self.tensors.keys() == other.tensors.keys() and all(
            torch.equal(self.tensors[k], other.tensors[k]) for k in self.tensors)


def tuned_path_for(codes_path: str | Path) -> Path:
    """Where the tuned weights of a codes file live: beside it, same stem, `.ftune`."""
    return Path(codes_path).with_suffix(SUFFIX)


def tuned_for_codes(codes_path: str | Path, info: dict, generator: Generator | None = None) -> TunedWeights | None:
    """The tuned weights a codes file names in its info (`"tuned": "<file name>"`, a file in the same
    folder), or None for an untuned portrait; CheckpointError when the entry or the file is bad."""
    name = info.get("tuned")
    if name is None:
        return None
    codes_path = Path(codes_path)
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..") or not name.endswith(SUFFIX):
        raise CheckpointError(codes_path, f"tuned-weights entry {name!r} must be a {SUFFIX} file name in the "
                                          "codes file's own folder")
    return load_tuned(codes_path.parent / name, generator)


def save_tuned(path: str | Path, weights: TunedWeights) -> Path:
    """Write tuned weights atomically in the `.ftune` format."""
    path = Path(path)
    save_tensors(path, weights.tensors, {"kind": KIND, "info": weights.info})
    return path


def load_tuned(path: str | Path, generator: Generator | None = None) -> TunedWeights:
    """Read a `.ftune` file; with `generator`, also check that it fits that (untuned) model.
    Any problem is a `CheckpointError` naming the file and the reason."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise CheckpointError(path, "no such tuned-weights file (or not a regular file: links are refused)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CheckpointError(path, f"larger than the {MAX_FILE_BYTES // 2 ** 20} MiB a tuned-weights file may be")
    tensors, config = read_tensors(path)
    if config.get("kind") != KIND:
        raise CheckpointError(path, "not a tuned-weights file (a model or codes file?)")
    info = config.get("info")
    if not isinstance(info, dict) or not tensors:
        raise CheckpointError(path, "tuned-weights file without tensors or info")
    unknown = [n for n in tensors if not n.startswith(tuple(p for ps in PART_PREFIXES.values() for p in ps))]
    if unknown:
        raise CheckpointError(path, f"{unknown[0]} is not a tunable generator parameter")
    weights = TunedWeights(tensors, info)
    if generator is not None:
        try:
            weights.check_fits(generator, str(path))
        except ValueError as exc:
            raise CheckpointError(path, str(exc).removeprefix(f"{path}: ")) from None
    return weights
