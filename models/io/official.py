"""Official FENeRF checkpoint files, read without the official code and without running pickles.

`generator.pth` (a pickled `DoubleImplicitGenerator3d` holding RAW weights), its `ema.pth` (a
pickled torch_ema object whose `shadow_params` are the weights every official tool renders with)
and inversion results `freq_phase_offset_*.pth` (spec 7, 12.5). Every failure is a
`CheckpointError` naming the file and the reason; nothing is written while reading.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NoReturn

import numpy as np
import torch

from models.field.config import GRID_CLASS, NOGRID_CLASS, GeneratorConfig, expected_state_shapes, infer_config
from models.io.atomic import atomic_path
from models.io.errors import CheckpointError
from models.io.torchzip import TorchArchive
from models.io.unpickler import (EMA_CLASS, GENERATOR_CLASS, ObjectRecord, TensorRef, load_records,
                                 materialize)

SUPPORTED_SIREN_CLASSES = (GRID_CLASS, NOGRID_CLASS)
INVERSION_KEYS = (
    "w_geo_frequencies", "w_geo_phase_shifts", "w_geo_frequency_offsets", "w_geo_phase_shift_offsets",
    "w_app_frequencies", "w_app_phase_shifts", "w_app_frequency_offsets", "w_app_phase_shift_offsets")
_MAX_ATTRIBUTE_NUMEL = 1 << 20


@dataclass
class OfficialGenerator:
    """A validated official generator: SIREN class, sizes and RAW (non-averaged) weights."""

    path: Path
    class_name: str
    config: GeneratorConfig
    state_dict: "OrderedDict[str, torch.Tensor]"
    attributes: dict = field(default_factory=dict)


@dataclass
class EmaState:
    """The averaged weights of an official `ema.pth`, one per generator parameter, in order."""

    path: Path
    decay: float
    num_updates: int | None
    shadow_params: list[torch.Tensor]


def read_official_generator(path: str | Path) -> OfficialGenerator:
    """Read and validate an official `generator.pth` (class, every key and shape, float32, finite)."""
    return _read_generator(path, with_weights=True)


def _read_generator(path: str | Path, with_weights: bool) -> OfficialGenerator:
    """Without weights, `state_dict` holds meta tensors (shapes only): nothing of the raw weights is
    read, for callers that render from the EMA file anyway."""
    with TorchArchive(path) as archive:
        root = load_records(archive)
        if not _is_record(root, GENERATOR_CLASS):
            archive.fail(f"not an official FENeRF generator (top-level object is {_describe(root)})")
        params, classes = _flatten_module(archive, root)
        siren = classes.get("siren", "")
        short = siren.rsplit(".", 1)[-1]
        if siren != f"siren.siren.{short}" or short not in SUPPORTED_SIREN_CLASSES:
            archive.fail(f"generator network {siren or 'missing'} is not supported "
                         f"(supported: {', '.join(SUPPORTED_SIREN_CLASSES)})")
        config = _check_shapes(archive, params)
        if config.grid != (short == GRID_CLASS):
            archive.fail(f"{short} {'lacks' if short == GRID_CLASS else 'has'} a latent grid")
        state = OrderedDict(
            (key, _weight(archive, ref, key) if with_weights else _meta(archive, ref, key))
            for key, ref in params.items())
        attributes = _attributes(archive, root.state)
    return OfficialGenerator(Path(path), short, config, state, attributes)


def read_official_ema(path: str | Path, generator: OfficialGenerator) -> EmaState:
    """Read an official `ema.pth` and check it matches `generator` (count, shapes, float32, finite)."""
    with TorchArchive(path) as archive:
        root = load_records(archive)
        if not _is_record(root, EMA_CLASS):
            archive.fail(f"not an official EMA file (top-level object is {_describe(root)})")
        state = root.state or {}
        decay, updates, shadow = state.get("decay"), state.get("num_updates"), state.get("shadow_params")
        if type(decay) not in (float, int) or not 0.0 <= decay <= 1.0:
            archive.fail(f"EMA decay {decay!r:.40} is not a number in [0, 1]")
        if updates is not None and (type(updates) is not int or updates < 0):
            archive.fail(f"EMA num_updates {updates!r:.40} is not a count")
        if not isinstance(shadow, list) or not all(isinstance(t, TensorRef) for t in shadow):
            archive.fail("EMA shadow_params is not a list of tensors")
        keys = list(generator.state_dict)
        if len(shadow) != len(keys):
            archive.fail(f"EMA holds {len(shadow)} shadow tensors, the generator "
                         f"{generator.path.name} has {len(keys)} parameters")
        tensors = []
        for index, (key, ref) in enumerate(zip(keys, shadow)):
            expected = tuple(generator.state_dict[key].shape)
            if ref.size != expected:
                archive.fail(f"shadow tensor {index} ({key}) has shape {ref.size}, expected {expected}")
            tensors.append(_weight(archive, ref, f"shadow tensor {index} ({key})"))
    return EmaState(Path(path), float(decay), updates, tensors)


def find_ema_file(generator_path: str | Path) -> Path | None:
    """`<prefix>generator.<ext>` -> `<prefix>ema.<ext>` in the same folder, if that file exists."""
    gen = Path(generator_path)
    stem, dot, ext = gen.name.rpartition(".")
    if not dot or not stem.endswith("generator"):
        return None
    candidate = gen.with_name(f"{stem[:-len('generator')]}ema.{ext}")
    return candidate if candidate.is_file() else None


def load_official_checkpoint(generator_path: str | Path, ema_path: str | Path | None = None
                             ) -> tuple[GeneratorConfig, "OrderedDict[str, torch.Tensor]", dict]:
    """Config, RENDER weights (EMA applied, as the official tools do) and an info dict.

    Without `ema_path` the EMA file is looked up next to the generator (`find_ema_file`); when
    there is none the raw weights are returned with `info["ema"] = False` and `info["warning"]`
    (the caller shows it). An EMA file that exists but is broken raises: no silent fallback. When
    the EMA is used the raw weights are never read (only their shapes and dtypes are checked).
    """
    if ema_path is None:
        ema_path = find_ema_file(generator_path)
    gen = _read_generator(generator_path, with_weights=ema_path is None)
    info = {"class_name": gen.class_name, "generator_path": gen.path, "ema_path": None, "ema": False,
            "warning": None, "step": gen.attributes.get("step"), "epoch": gen.attributes.get("epoch")}
    if ema_path is None:
        info["warning"] = (f"no EMA file next to {gen.path.name}: rendering from the raw training "
                           "weights, not the averaged ones the official tools use")
        return gen.config, gen.state_dict, info
    ema = read_official_ema(ema_path, gen)
    weights = OrderedDict(zip(gen.state_dict, ema.shadow_params))
    info.update(ema_path=ema.path, ema=True, decay=ema.decay, num_updates=ema.num_updates)
    return gen.config, weights, info


def read_inversion_file(path: str | Path, config: GeneratorConfig | None = None) -> dict[str, torch.Tensor]:
    """The 8 tensors of an official `freq_phase_offset_*.pth` (codes = base + offset)."""
    with TorchArchive(path) as archive:
        root = load_records(archive)
        if not isinstance(root, dict) or not all(isinstance(v, TensorRef) for v in root.values()):
            archive.fail(f"not an inversion file (top-level object is {_describe(root)})")
        _check_inversion_layout(archive.fail, {k: ref.size for k, ref in root.items()}, config)
        return {key: _weight(archive, root[key], key) for key in INVERSION_KEYS}


def write_inversion_file(path: str | Path, tensors: dict[str, torch.Tensor],
                         config: GeneratorConfig | None = None) -> None:
    """Write the official inversion layout (torch.save'd dict of 8 float32 tensors), atomically."""
    path = Path(path)

    def fail(reason: str) -> NoReturn:
        raise CheckpointError(path, reason)

    shapes = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in tensors.items()}
    _check_inversion_layout(fail, shapes, config)
    clean = {}
    for key in INVERSION_KEYS:
        value = tensors[key].detach().to("cpu", torch.float32).contiguous().clone()
        if not torch.isfinite(value).all():
            fail(f"refusing to write {key}: it contains NaN or infinite values")
        clean[key] = value
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(clean, fh)


def sniff_checkpoint_kind(path: str | Path) -> str:
    """'official-generator' | 'official-ema' | 'official-inversion' | 'unknown', from the object
    structure alone (restricted unpickling, no tensor data read, nothing executed)."""
    try:
        with TorchArchive(path) as archive:
            root = load_records(archive)
    except CheckpointError:
        return "unknown"
    if _is_record(root, GENERATOR_CLASS):
        return "official-generator"
    if _is_record(root, EMA_CLASS):
        return "official-ema"
    if isinstance(root, dict) and set(root) == set(INVERSION_KEYS):
        return "official-inversion"
    return "unknown"


# -- helpers ---------------------------------------------------------------------------------------
def _is_record(obj, class_name: str) -> bool:
    return isinstance(obj, ObjectRecord) and obj.class_name == class_name and obj.state is not None


def _describe(obj) -> str:
    if isinstance(obj, ObjectRecord):
        return obj.class_name
    if isinstance(obj, dict):
        return f"a dict with keys {sorted(map(str, obj))[:4]}"
    return f"a {type(obj).__name__}"


def _flatten_module(archive: TorchArchive, root: ObjectRecord
                    ) -> tuple["OrderedDict[str, TensorRef]", dict[str, str]]:
    """Dotted state-dict entries (parameters then persistent buffers, parent before children, as
    `nn.Module.state_dict`) and the class name at every module path."""
    params: OrderedDict[str, TensorRef] = OrderedDict()
    classes: dict[str, str] = {}
    seen: set[int] = set()
    stack = [("", root)]
    while stack:
        prefix, module = stack.pop()
        where = prefix.rstrip(".") or "<root>"
        if not isinstance(module, ObjectRecord) or module.state is None:
            archive.fail(f"module {where} is {_describe(module)}, not a module")
        if id(module) in seen:
            archive.fail(f"module {where} appears twice in the module tree")
        seen.add(id(module))
        classes[prefix.rstrip(".")] = module.class_name
        state = module.state
        for table in ("_parameters", "_buffers"):
            entries = state.get(table, {})
            if not isinstance(entries, dict):
                archive.fail(f"module {where} has a malformed {table} table")
            for name, ref in entries.items():
                if ref is None:
                    continue
                if not isinstance(ref, TensorRef):
                    archive.fail(f"{prefix}{name} is {_describe(ref)}, not a tensor")
                params[prefix + str(name)] = ref
        children = state.get("_modules", {})
        if not isinstance(children, dict):
            archive.fail(f"module {where} has a malformed _modules table")
        stack.extend((f"{prefix}{name}.", child) for name, child in reversed(children.items())
                     if child is not None)
    return params, classes


def _check_shapes(archive: TorchArchive, params: "OrderedDict[str, TensorRef]") -> GeneratorConfig:
    shapes = {key: ref.size for key, ref in params.items()}
    try:
        config = infer_config(shapes)
        expected = expected_state_shapes(config)
    except KeyError as exc:
        archive.fail(f"missing key {exc.args[0]}")
    except (IndexError, ValueError, TypeError) as exc:
        archive.fail(f"cannot derive the model sizes from the parameter shapes ({exc})")
    for key in expected:
        if key not in shapes:
            archive.fail(f"missing key {key}")
    for key, shape in shapes.items():
        if key not in expected:
            archive.fail(f"unexpected key {key} {shape}")
        if shape != expected[key]:
            archive.fail(f"key {key} has shape {shape}, expected {expected[key]}")
    if list(shapes) != list(expected):
        first = next(a for a, b in zip(shapes, expected) if a != b)
        archive.fail(f"parameters are not in the official order (found {first} early)")
    return config


def _meta(archive: TorchArchive, ref: TensorRef, what: str) -> torch.Tensor:
    """A shape-and-dtype stand-in (no data) for a float32 tensor reference."""
    dtype = ref.storage.dtype
    if dtype != torch.float32:
        archive.fail(f"{what} is {str(dtype).replace('torch.', '')}, expected float32")
    return torch.empty(ref.size, dtype=dtype, device="meta")


def _weight(archive: TorchArchive, ref: TensorRef, what: str) -> torch.Tensor:
    _meta(archive, ref, what)
    tensor = materialize(archive, ref)
    if not np.isfinite(tensor.numpy()).all():   # numpy: several times faster than torch here
        archive.fail(f"{what} contains NaN or infinite values")
    return tensor


def _attributes(archive: TorchArchive, state: dict) -> dict:
    """The generator's plain attributes (step, epoch, device, stale avg_* codes...): informational."""
    out = {}
    for name, value in state.items():
        if name.startswith("_"):
            continue
        if isinstance(value, TensorRef):
            if math.prod(value.size) <= _MAX_ATTRIBUTE_NUMEL:
                out[name] = materialize(archive, value)
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
    return out


def _check_inversion_layout(fail: Callable[[str], NoReturn], shapes: dict,
                            config: GeneratorConfig | None) -> None:
    missing = [k for k in INVERSION_KEYS if k not in shapes]
    if missing:
        fail(f"inversion file is missing key {missing[0]}")
    extra = [k for k in shapes if k not in INVERSION_KEYS]
    if extra:
        fail(f"unexpected key {extra[0]!r:.60} in inversion file")
    for branch in ("geo", "app"):
        keys = [k for k in INVERSION_KEYS if f"_{branch}_" in k]
        if config is not None:
            width = config.geo_code_dim if branch == "geo" else config.app_code_dim
        else:
            first = shapes[keys[0]]
            width = first[1] if first is not None and len(first) == 2 else -1
        for key in keys:
            if shapes[key] != (1, width):
                fail(f"key {key} has shape {shapes[key]}, expected {(1, width) if width > 0 else '(1, N)'}")
