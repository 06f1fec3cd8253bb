"""Restricted unpickling of a torch checkpoint's `data.pkl` (spec 7.4, route 1).

Nothing pickled is ever executed: the opcode stream is scanned first (allowed opcodes and globals
only), then `pickle.Unpickler` runs with a `find_class` that hands out inert stand-ins. Official
classes become `ObjectRecord`s holding their BUILD state, storages become `StorageRef`s and tensors
`TensorRef`s; no tensor bytes are read until `materialize` is called on a validated reference.
"""
from __future__ import annotations

import io
import pickle
import pickletools
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import cache

import torch

from models.io.errors import CheckpointError
from models.io.torchzip import TorchArchive

GENERATOR_CLASS = "generators.generators.DoubleImplicitGenerator3d"
EMA_CLASS = "torch_ema.ema.ExponentialMovingAverage"
# Every SIREN of the official code (state-dict-keys.md, detection table): known, so a file holding
# one is named precisely; only the two released variants pass the generator validation.
SIREN_CLASSES = frozenset(f"siren.siren.{name}" for name in (
    "TextureEmbeddingPiGAN256SEMANTICDISENTANGLE_DIM_96", "SIRENBASELINESEMANTICDISENTANGLE",
    "TextureEmbeddingPiGAN256SEMANTICDISENTANGLE", "SPATIALSIRENSEMANTICDISENTANGLE",
    "SIRENBASELINESEMANTICDISENTANGLE_debug", "TextureEmbeddingPiGAN256SEMANTICDISENTANGLE_WO_DIR_DIM_96",
    "EmbeddingPiGAN128SEMANTICDISENTANGLE"))
RECORD_CLASSES = SIREN_CLASSES | {
    GENERATOR_CLASS, EMA_CLASS, "siren.siren.FiLMLayer", "siren.siren.CustomMappingNetwork",
    "siren.siren.UniformBoxWarp", "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.Sequential", "torch.nn.modules.linear.Linear",
    "torch.nn.modules.activation.LeakyReLU"}
STORAGE_DTYPES = {f"torch.{name}": dtype for name, dtype in (
    ("FloatStorage", torch.float32), ("HalfStorage", torch.float16), ("DoubleStorage", torch.float64),
    ("BFloat16Storage", torch.bfloat16), ("LongStorage", torch.int64), ("IntStorage", torch.int32),
    ("ShortStorage", torch.int16), ("CharStorage", torch.int8), ("ByteStorage", torch.uint8),
    ("BoolStorage", torch.bool))}
# Data-building opcodes only: no INST/OBJ/NEWOBJ_EX (calls with kwargs), no EXT* (copyreg
# registry), no text PERSID, no out-of-band buffers.
_ALLOWED_OPCODES = frozenset("""
    PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 LONG
    LONG1 LONG4 FLOAT BINFLOAT STRING BINSTRING SHORT_BINSTRING BINBYTES SHORT_BINBYTES BINBYTES8
    UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8 EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3
    EMPTY_LIST APPEND APPENDS LIST EMPTY_DICT DICT SETITEM SETITEMS EMPTY_SET ADDITEMS FROZENSET
    GET BINGET LONG_BINGET PUT BINPUT LONG_BINPUT MEMOIZE GLOBAL STACK_GLOBAL REDUCE BUILD NEWOBJ
    BINPERSID""".split())
_MAX_DIMS = 8


class _Refused(Exception):
    """Raised by stand-ins while unpickling; turned into a CheckpointError naming the file."""


class _Inert:
    """Base of the stand-ins: a pickle cannot BUILD (set state on) them."""

    def __setstate__(self, state) -> None:
        raise _Refused(f"pickle sets state on a {type(self).__name__}")


@dataclass(frozen=True)
class StorageRef(_Inert):
    """A storage the pickle references: `data/<key>` holding `numel` elements of `dtype`."""

    key: str
    dtype: torch.dtype
    numel: int
    location: str


@dataclass(frozen=True)
class TensorRef(_Inert):
    """A tensor view of a storage, as `_rebuild_tensor_v2` would have built it (bounds checked)."""

    storage: StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    requires_grad: bool
    parameter: bool = False


class ObjectRecord:
    """An instance of an allowed class: its qualified class name and its pickled `__dict__`."""

    class_name = ""

    def __new__(cls, *args):
        if args:
            raise _Refused(f"pickle creates {cls.class_name} with arguments")
        record = object.__new__(cls)
        record.state = None
        return record

    def __init__(self, *args, **kwargs):
        raise _Refused(f"pickle calls class {self.class_name}")

    def __setstate__(self, state) -> None:
        if self.state is not None:
            raise _Refused(f"pickle sets the state of a {self.class_name} twice")
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise _Refused(f"state of {self.class_name} is not an attribute dict")
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.class_name}>"


@cache
def _record_class(qualname: str) -> type[ObjectRecord]:
    return type(qualname.rsplit(".", 1)[-1], (ObjectRecord,), {"class_name": qualname})


@dataclass(frozen=True)
class _StorageType(_Inert):
    dtype: torch.dtype


def _device(kind, index=None) -> str:
    """Stand-in for torch.device: the recorded device as a string (never honoured)."""
    if not isinstance(kind, str) or not (index is None or type(index) is int) or len(kind) > 64:
        raise _Refused("malformed torch.device in pickle")
    return kind if index is None else f"{kind}:{index}"


def _ints(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > _MAX_DIMS or any(type(v) is not int or v < 0 for v in value):
        raise _Refused(f"malformed tensor {what} {value!r:.60}")
    return value


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """Stand-in for torch._utils._rebuild_tensor_v2: validates the view, returns a TensorRef."""
    if not isinstance(storage, StorageRef) or type(storage_offset) is not int or storage_offset < 0:
        raise _Refused("malformed tensor in pickle (storage or offset)")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride) or not isinstance(requires_grad, bool):
        raise _Refused(f"malformed tensor in pickle (size {size}, stride {stride})")
    if backward_hooks or metadata:
        raise _Refused("tensor in pickle carries hooks or metadata")
    if all(size):
        count, last = 1, storage_offset
        for n, s in zip(size, stride):
            count, last = count * n, last + (n - 1) * s
        if count > storage.numel:
            raise _Refused(f"tensor view {size} holds more elements than storage {storage.key}")
        if last >= storage.numel:
            raise _Refused(f"tensor view {size} at offset {storage_offset} reaches past the end of "
                           f"storage {storage.key} ({storage.numel} elements)")
    return TensorRef(storage, storage_offset, size, stride, requires_grad)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """Stand-in for torch._utils._rebuild_parameter."""
    if not isinstance(data, TensorRef) or not isinstance(requires_grad, bool) or backward_hooks:
        raise _Refused("malformed parameter in pickle")
    return replace(data, requires_grad=requires_grad, parameter=True)


_CALLABLES = {
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch.device": _device,
    "collections.OrderedDict": OrderedDict,
    "__builtin__.set": set,
    "builtins.set": set,
}
ALLOWED_GLOBALS = frozenset(_CALLABLES) | frozenset(STORAGE_DTYPES) | RECORD_CLASSES


def _display(module: str, name: str) -> str:
    return f"{'builtins' if module == '__builtin__' else module}.{name}"


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: TorchArchive):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self.storages: dict[str, StorageRef] = {}

    def find_class(self, module: str, name: str):
        qualname = f"{module}.{name}"
        if qualname in _CALLABLES:
            return _CALLABLES[qualname]
        if qualname in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[qualname])
        if qualname in RECORD_CLASSES:
            return _record_class(qualname)
        raise _Refused(f"refused: pickle references {_display(module, name)}, which is not an allowed class")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and isinstance(pid[3], str) and type(pid[4]) is int and pid[4] >= 0):
            raise _Refused(f"refused: unknown persistent reference {pid!r:.80}")
        _, kind, key, location, numel = pid
        ref = StorageRef(key, kind.dtype, numel, location)
        known = self.storages.setdefault(key, ref)
        if known != ref:
            raise _Refused(f"storage {key} is declared twice with different types or sizes")
        self._archive.check_storage(key, numel * torch.empty((), dtype=kind.dtype).element_size())
        return known


def _scan(archive: TorchArchive, data: bytes) -> None:
    """Refuse unknown opcodes and globals without executing anything."""
    end = -1
    try:
        for opcode, arg, pos in pickletools.genops(data):
            if opcode.name not in _ALLOWED_OPCODES:
                archive.fail(f"refused: pickle uses opcode {opcode.name}, which checkpoints never need")
            if opcode.name == "GLOBAL":
                module, _, name = arg.partition(" ")
                if f"{module}.{name}" not in ALLOWED_GLOBALS:
                    archive.fail(f"refused: pickle references {_display(module, name)}, "
                                 "which is not an allowed class")
            end = pos
    except ValueError as exc:
        archive.fail(f"corrupt pickle (data.pkl): {exc}")
    if end + 1 != len(data):
        archive.fail(f"data.pkl has {len(data) - end - 1} bytes after the end of the pickle")


def load_records(archive: TorchArchive):
    """Unpickle `data.pkl` into inert records; checks every storage member is referenced."""
    data = archive.read_pickle()
    _scan(archive, data)
    unpickler = _RestrictedUnpickler(data, archive)
    try:
        root = unpickler.load()
    except CheckpointError:
        raise
    except _Refused as exc:
        archive.fail(str(exc))
    except RecursionError:
        archive.fail("pickle nests too deeply")
    except Exception as exc:  # any malformed stream: report it, never let it escape unnamed
        archive.fail(f"corrupt pickle (data.pkl): {type(exc).__name__}: {exc}")
    extra = sorted(archive.data_keys - unpickler.storages.keys())
    if extra:
        archive.fail(f"archive member {archive.prefix}data/{extra[0]} is not referenced by the pickle "
                     f"({len(extra)} extra storage member(s))")
    return root


def materialize(archive: TorchArchive, ref: TensorRef) -> torch.Tensor:
    """The tensor `ref` describes, as a CPU tensor that owns no more memory than it needs."""
    st = ref.storage
    flat = archive.read_storage(st.key, st.dtype, st.numel)
    view = flat.as_strided(ref.size, ref.stride, ref.offset)
    whole = ref.offset == 0 and view.numel() == st.numel and view.is_contiguous()
    return view if whole else view.clone()
