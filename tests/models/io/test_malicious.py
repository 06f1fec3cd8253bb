"""Hostile and broken checkpoint files: each is refused with one line naming the file and reason,
and nothing pickled ever runs.

Small official-layout files are made here with `torch.save` of stand-in modules registered under
the official module names (`siren.siren.FiLMLayer`, ...), so the pickles have the official shape.
"""
from __future__ import annotations

import builtins
import io
import os
import pickle
import pickletools
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from models.field.config import GRID_CLASS, NOGRID_CLASS, GeneratorConfig, expected_state_shapes
from models.io.errors import CheckpointError
from models.io.official import (INVERSION_KEYS, load_official_checkpoint, read_inversion_file, read_official_ema,
                                read_official_generator, sniff_checkpoint_kind)

TINY = GeneratorConfig(z_geo_dim=8, z_app_dim=6, hidden_dim=8, geo_layers=2, app_layers=1,
                       mapping_hidden=8, mapping_depth=2, label_layers=2, grid_channels=4,
                       grid_resolution=3)
_FAKE_MODULES = ("siren", "siren.siren", "generators", "generators.generators", "torch_ema",
                 "torch_ema.ema", "evil")


# -- builders ----------------------------------------------------------------------------------------
@pytest.fixture
def standins(monkeypatch):
    """Importable stand-ins for the official classes (pickle looks classes up by module name)."""
    made = {}
    for name in _FAKE_MODULES:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))

    def cls(qualname: str, base: type = nn.Module) -> type:
        module, _, name = qualname.rpartition(".")
        if qualname not in made:
            made[qualname] = type(name, (base,), {"__module__": module, "__qualname__": name})
            setattr(sys.modules[module], name, made[qualname])
        return made[qualname]
    return cls


def _official_class(standins, path: str) -> type:
    """The official class of the module at a `siren.`-relative path (e.g. `network.3.layer`)."""
    parts = path.split(".")
    if parts[-1] in ("layer", "final_layer"):
        return nn.Linear
    if parts[0] in ("network", "color_layer_sine"):
        return nn.ModuleList if len(parts) == 1 else standins("siren.siren.FiLMLayer")
    if parts[-1].endswith("mapping_network"):
        return standins("siren.siren.CustomMappingNetwork")
    if parts[-1] == "network" or len(parts) == 1:
        return nn.Sequential
    return nn.Linear            # numbered children of the Sequentials


def _build_generator(standins, cfg=TINY, siren_class=GRID_CLASS, seed=0, override=None):
    """A DoubleImplicitGenerator3d stand-in with every parameter of `cfg` in the official order;
    `override` maps a siren-relative module path to another class."""
    gen = torch.Generator().manual_seed(seed)
    root = standins("generators.generators.DoubleImplicitGenerator3d")()
    siren = standins(f"siren.siren.{siren_class}")()
    root.add_module("siren", siren)
    for key, shape in expected_state_shapes(cfg).items():
        parts = key.split(".")[1:]
        module = siren
        for depth, name in enumerate(parts[:-1]):
            path = ".".join(parts[:depth + 1])
            if name not in module._modules:
                if "mapping_network.network." in path and int(name) > 0:
                    module.add_module(str(int(name) - 1), nn.LeakyReLU(0.2))
                kind = (override or {}).get(path) or _official_class(standins, path)
                child = kind.__new__(kind)
                nn.Module.__init__(child)
                module.add_module(name, child)
            module = module._modules[name]
        module.register_parameter(parts[-1], nn.Parameter(torch.randn(shape, generator=gen) * 0.1))
    siren.add_module("gridwarper", standins("siren.siren.UniformBoxWarp")())
    root.step, root.epoch, root.device = 7, 1, torch.device("cuda", 0)
    root.avg_frequencies_geo = torch.zeros(1, cfg.geo_code_dim)
    return root


def _build_ema(standins, generator: nn.Module, shift=0.01):
    ema = standins("torch_ema.ema.ExponentialMovingAverage", object)()
    ema.decay, ema.num_updates = 0.999, 3
    ema.shadow_params = [p.detach() + shift for p in generator.parameters()]
    ema.collected_params = [p.detach().clone().requires_grad_() for p in generator.parameters()]
    return ema


def _torch_zip(path: Path, pkl: bytes, storages: dict[str, bytes]) -> Path:
    """A zip laid out as torch.save lays it out (stored members, one top folder)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", "little")
        for key, data in storages.items():
            zf.writestr(f"archive/data/{key}", data)
        zf.writestr("archive/version", "3\n")
    return path


def _rewrite(src: Path, dst: Path, drop=(), add=(), compress=zipfile.ZIP_STORED, replace=None) -> Path:
    """Copy a torch zip member by member, dropping, adding or replacing members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for info in zin.infolist():
            if drop and info.filename.endswith(tuple(drop)):
                continue
            data = zin.read(info)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            zout.writestr(info.filename, data)
        for name, data in add:
            zout.writestr(name, data)
    return dst


class _Storage:
    def __init__(self, key: str, numel: int):
        self.key, self.numel = key, numel


class _View:
    """Pickles as the real `_rebuild_tensor_v2` call over a `_Storage` (persistent id)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _dumps(obj, protocol=2) -> bytes:
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def _refused(path: Path, fn=read_official_generator, *args) -> str:
    with pytest.raises(CheckpointError) as err:
        fn(path, *args)
    message = str(err.value)
    assert err.value.path == Path(path) and message.startswith(f"{path}: ") and "\n" not in message
    return message


# -- code execution -------------------------------------------------------------------------------
class _System:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


class _Open:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return builtins.open, (str(self.target), "w")


@pytest.mark.parametrize("protocol", [2, 4])   # GLOBAL (seen by the opcode scan) and STACK_GLOBAL
def test_reduce_calling_os_system_is_refused_and_never_runs(tmp_path, protocol):
    pwned = tmp_path / "pwned"
    path = tmp_path / "evil_generator.pth"
    torch.save({"w_geo_frequencies": _System(pwned)}, path, pickle_protocol=protocol)
    for fn in (read_official_generator, read_inversion_file):
        message = _refused(path, fn)
        assert "refused: pickle references posix.system, which is not an allowed class" in message
    assert sniff_checkpoint_kind(path) == "unknown"
    assert not pwned.exists()


def test_reduce_calling_open_is_refused_and_writes_nothing(tmp_path):
    pwned = tmp_path / "pwned2"
    path = _torch_zip(tmp_path / "evil.pth", pickle.dumps([_Open(pwned)], protocol=2), {})
    assert "refused: pickle references io.open" in _refused(path)   # builtins.open is io.open
    assert sniff_checkpoint_kind(path) == "unknown"
    assert not pwned.exists()


@pytest.mark.parametrize("pkl, reason", [
    (b"\x80\x02c__builtin__\neval\nX\x04\x00\x00\x001+1q\x00\x85R.", "references builtins.eval"),
    (b"\x80\x02c__builtin__\ngetattr\n.", "references builtins.getattr"),
    (b"\x80\x02csubprocess\ncall\n.", "references subprocess.call"),
    (b"(ios\ngetcwd\n.", "uses opcode INST"),                            # protocol 0 INST, harmless
    (b"\x80\x02\x82\x01.", "uses opcode EXT1"),                          # copyreg extension registry
    (b"\x80\x02P0\n.", "uses opcode PERSID"),
])
def test_hand_written_hostile_pickles_are_refused(tmp_path, pkl, reason):
    path = _torch_zip(tmp_path / "hostile.pth", pkl, {})
    assert f"refused: pickle {reason}" in _refused(path)


def test_unknown_module_class_is_refused(standins, tmp_path):
    root = _build_generator(standins, override={"final_layer": standins("evil.Module")})
    torch.save(root, tmp_path / "g.pth")
    assert "refused: pickle references evil.Module, which is not an allowed class" in _refused(tmp_path / "g.pth")


# -- the stand-in files themselves load (so the refusals below are about the one defect) -------------
def _globals(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        pkl = zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))
    return {arg for op, arg, _ in pickletools.genops(pkl) if op.name == "GLOBAL"}


def test_tiny_official_layout_loads_with_ema(standins, tmp_path, official_fixtures):
    root = _build_generator(standins)
    torch.save(root, tmp_path / "tiny_generator.pth")
    torch.save(_build_ema(standins, root), tmp_path / "tiny_ema.pth")
    assert _globals(tmp_path / "tiny_generator.pth") == _globals(official_fixtures.generator_a)
    assert _globals(tmp_path / "tiny_ema.pth") == _globals(official_fixtures.ema_a)
    config, weights, info = load_official_checkpoint(tmp_path / "tiny_generator.pth")
    assert config == TINY and info["ema"] is True and info["step"] == 7
    expected = {k: v.detach() + 0.01 for k, v in root.state_dict().items()}
    assert list(weights) == list(expected_state_shapes(TINY))
    assert all(torch.allclose(weights[k], expected[k]) for k in expected)


def test_tensor_views_into_one_shared_storage_are_rebuilt(tmp_path):
    base = torch.arange(40, dtype=torch.float32)
    storage = _Storage("0", 40)
    views = {key: (2 * i, (1, 4 if "_geo_" in key else 2), (1, 3 if i % 2 else 1))
             for i, key in enumerate(INVERSION_KEYS)}                  # odd keys: strided views
    pkl = _dumps({key: _View(storage, *args) for key, args in views.items()})
    codes = read_inversion_file(_torch_zip(tmp_path / "views.pth", pkl, {"0": base.numpy().tobytes()}))
    for key, (offset, size, stride) in views.items():
        assert torch.equal(codes[key], base.as_strided(size, stride, offset))
    for name, view, reason in (
            ("oob", _View(storage, 38, (1, 4), (1, 1)), "reaches past the end of storage 0 (40 elements)"),
            ("big", _View(storage, 0, (50,), (0,)), "(50,) holds more elements than storage 0")):
        path = _torch_zip(tmp_path / f"{name}.pth", _dumps([view]), {"0": base.numpy().tobytes()})
        assert reason in _refused(path, read_inversion_file)


# -- validation of content -------------------------------------------------------------------------
def _save_tweaked(standins, tmp_path, tweak, **build) -> Path:
    root = _build_generator(standins, **build)
    tweak(root)
    torch.save(root, tmp_path / "g.pth")
    return tmp_path / "g.pth"


def test_wrong_shape_is_refused(standins, tmp_path):
    def widen(root):
        root.siren.final_layer.weight = nn.Parameter(torch.zeros(2, 8))
    message = _refused(_save_tweaked(standins, tmp_path, widen))
    assert "key siren.final_layer.weight has shape (2, 8), expected (1, 8)" in message


def test_nan_weight_is_refused(standins, tmp_path):
    def poison(root):
        with torch.no_grad():
            root.siren.network[1].layer.weight[0, 0] = float("nan")
    assert "siren.network.1.layer.weight contains NaN or infinite values" in _refused(
        _save_tweaked(standins, tmp_path, poison))


def test_float64_weight_is_refused(standins, tmp_path):
    def widen(root):
        root.siren.final_layer.bias = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    assert "siren.final_layer.bias is float64, expected float32" in _refused(
        _save_tweaked(standins, tmp_path, widen))


def test_missing_and_unexpected_keys_are_refused(standins, tmp_path):
    def drop(root):
        del root.siren.label_layer_linear[0]._parameters["bias"]
    assert "missing key siren.label_layer_linear.0.bias" in _refused(_save_tweaked(standins, tmp_path, drop))

    def add(root):
        root.siren.extra = nn.Parameter(torch.zeros(3))
    assert "unexpected key siren.extra" in _refused(_save_tweaked(standins, tmp_path, add))


def test_unsupported_official_class_is_named(standins, tmp_path):
    path = _save_tweaked(standins, tmp_path, lambda root: None, siren_class="SPATIALSIRENSEMANTICDISENTANGLE")
    assert "siren.siren.SPATIALSIRENSEMANTICDISENTANGLE is not supported" in _refused(path)
    mismatch = _save_tweaked(standins, tmp_path, lambda root: None, siren_class=NOGRID_CLASS)
    assert f"{NOGRID_CLASS} has a latent grid" in _refused(mismatch)


def test_broken_ema_files_are_refused(standins, tmp_path):
    root = _build_generator(standins)
    torch.save(root, tmp_path / "g_generator.pth")
    gen = read_official_generator(tmp_path / "g_generator.pth")
    count = len(expected_state_shapes(TINY))
    cases = {
        "short": (lambda e: e.shadow_params.pop(),
                  f"EMA holds {count - 1} shadow tensors, the generator g_generator.pth has {count} parameters"),
        "shape": (lambda e: e.shadow_params.__setitem__(4, torch.zeros(5)),
                  "shadow tensor 4 (siren.network.1.layer.bias) has shape (5,), expected (8,)"),
        "nan": (lambda e: e.shadow_params[0].view(-1).__setitem__(0, float("inf")), "shadow tensor 0"),
        "decay": (lambda e: setattr(e, "decay", "0.9"), "EMA decay '0.9' is not a number"),
    }
    for name, (tweak, reason) in cases.items():
        ema = _build_ema(standins, root)
        tweak(ema)
        torch.save(ema, tmp_path / f"{name}.pth")
        assert reason in _refused(tmp_path / f"{name}.pth", read_official_ema, gen)
    torch.save(root, tmp_path / "not_ema.pth")
    assert "not an official EMA file" in _refused(tmp_path / "not_ema.pth", read_official_ema, gen)
    assert "not an official FENeRF generator" in _refused(tmp_path / "nan.pth")


# -- archive structure -----------------------------------------------------------------------------
@pytest.mark.parametrize("cut", [0.10, 0.50, 0.99, "eocd"])
def test_truncated_fixture_is_refused(official_fixtures, tmp_path, cut):
    data = official_fixtures.generator_b.read_bytes()
    end = len(data) - 22 if cut == "eocd" else int(len(data) * cut)
    path = tmp_path / "cut_generator.pth"
    path.write_bytes(data[:end])
    assert "truncated archive (zip central directory missing)" in _refused(path)


def test_corrupted_storage_byte_fails_the_crc(official_fixtures, tmp_path):
    data = bytearray(official_fixtures.generator_b.read_bytes())
    weight = read_official_generator(official_fixtures.generator_b).state_dict["siren.final_layer.weight"]
    at = bytes(data).find(weight.numpy().tobytes())
    data[at + 5] ^= 0x40
    path = tmp_path / "flipped.pth"
    path.write_bytes(bytes(data))
    assert "Bad CRC-32" in _refused(path)


def test_extra_missing_and_resized_members_are_refused(standins, tmp_path):
    root = _build_generator(standins)
    good = tmp_path / "g.pth"
    torch.save(root, good)
    top = zipfile.ZipFile(good).namelist()[0].split("/")[0]
    extra = _rewrite(good, tmp_path / "extra.pth", add=[(f"{top}/data/999", b"\0" * 8)])
    assert f"archive member {top}/data/999 is not referenced by the pickle" in _refused(extra)
    stray = _rewrite(good, tmp_path / "stray.pth", add=[(f"{top}/payload.py", b"import os")])
    assert f"unexpected archive member {top}/payload.py" in _refused(stray)
    second = _rewrite(good, tmp_path / "two.pth", add=[("other/data.pkl", b".")])
    assert "2 top-level folders" in _refused(second)
    missing = _rewrite(good, tmp_path / "missing.pth", drop=["/data/5"])
    assert f"storage 5 referenced by the pickle is missing from the archive ({top}/data/5)" in _refused(missing)
    resized = _rewrite(good, tmp_path / "resized.pth", replace=("/data/5", b"\0" * 12))
    assert "storage 5 holds 12 bytes, the pickle declares" in _refused(resized)
    deflated = _rewrite(good, tmp_path / "deflated.pth", compress=zipfile.ZIP_DEFLATED)
    assert "is compressed" in _refused(deflated)
    nopickle = _rewrite(good, tmp_path / "nopickle.pth", drop=["data.pkl"])
    assert f"archive has no {top}/data.pkl" in _refused(nopickle)


def test_not_a_checkpoint_at_all(tmp_path):
    legacy = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(3)}, legacy, _use_new_zipfile_serialization=False)
    assert "not a zip archive; legacy pre-1.6 torch format is not supported" in _refused(legacy)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    assert _refused(empty).endswith(": empty file")
    assert "is a directory" in _refused(tmp_path)
    assert "no such file" in _refused(tmp_path / "absent.pth")
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    assert "not a zip archive (not a torch checkpoint)" in _refused(text)
    trailing = _torch_zip(tmp_path / "trailing.pth", pickle.dumps({}, protocol=2) + b"junk", {})
    assert "4 bytes after the end of the pickle" in _refused(trailing)
    garbage = _torch_zip(tmp_path / "garbage.pth", b"\x80\x02}q\x00(X\x01", {})
    assert "corrupt pickle (data.pkl)" in _refused(garbage)
