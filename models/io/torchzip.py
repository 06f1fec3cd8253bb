"""The zip layer of a `torch.save` file (spec 7.3): member checks and storage bytes, no unpickling.

A `TorchArchive` refuses anything that is not a plain torch zip archive before a single pickle
opcode is looked at, and later hands out storages as flat CPU tensors read straight into their
final buffer (CRC-checked by `zipfile`).
"""
from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path
from typing import NoReturn

import torch

from models.io.errors import CheckpointError

# What `torch.save` puts next to data.pkl (torch 1.6 writes only `version`; 2.x adds the rest).
_RECORD_MEMBERS = frozenset({"version", ".format_version", ".storage_alignment", "byteorder",
                             ".data/serialization_id"})
_DATA_MEMBER = re.compile(r"data/([0-9A-Za-z_]{1,64})")
_MAX_PICKLE_BYTES = 64 * 2**20          # an object graph, not weights: official ones are < 20 KB
_MAX_RECORD_BYTES = 4096
_CHUNK = 4 * 2**20
# Pre-1.6 torch files start with a protocol-2 pickle of the long 0x1950a86a20f9469cfc6c.
_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


class TorchArchive:
    """An opened, structurally validated torch zip checkpoint. Use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        size = self._check_file()
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            self.fail(f"corrupt zip archive ({exc})")
        try:
            self._index_members(size)
        except BaseException:
            self._zip.close()
            raise

    # -- public -------------------------------------------------------------------------------
    def fail(self, reason: str) -> NoReturn:
        """Raise the one error type, naming this file."""
        raise CheckpointError(self.path, reason)

    @property
    def data_keys(self) -> frozenset[str]:
        """Keys of every `data/<key>` storage member."""
        return frozenset(self._data)

    def read_pickle(self) -> bytes:
        """The bytes of `<folder>/data.pkl` (CRC-checked)."""
        return self._read_small(self._pickle, _MAX_PICKLE_BYTES)

    def check_storage(self, key: str, nbytes: int) -> None:
        """Refuse a storage reference whose member is missing or holds a different byte count."""
        info = self._data.get(key)
        if info is None:
            self.fail(f"storage {key} referenced by the pickle is missing from the archive "
                      f"({self.prefix}data/{key})")
        if info.file_size != nbytes:
            self.fail(f"storage {key} holds {info.file_size} bytes, the pickle declares {nbytes}")

    def read_storage(self, key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
        """Storage `key` as a flat CPU tensor, read in chunks straight into its buffer."""
        self.check_storage(key, numel * _itemsize(dtype))
        info = self._data[key]
        flat = torch.empty(numel, dtype=dtype)
        if numel == 0:
            return flat
        view = memoryview(flat.view(torch.uint8).numpy())
        try:
            with self._zip.open(info) as fh:
                pos = 0
                while pos < len(view):
                    got = fh.readinto(view[pos:pos + _CHUNK])
                    if not got:
                        self.fail(f"archive member {info.filename} ends early (truncated)")
                    pos += got
                fh.read(1)      # reach end of member so zipfile verifies the CRC
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            self.fail(f"corrupt archive member {info.filename} ({exc})")
        return flat

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "TorchArchive":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- validation ---------------------------------------------------------------------------
    def _check_file(self) -> int:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.fail("no such file")
        except OSError as exc:
            self.fail(f"cannot read ({exc.strerror or exc})")
        if stat.S_ISDIR(st.st_mode):
            self.fail("is a directory, not a checkpoint file")
        if not stat.S_ISREG(st.st_mode):
            self.fail("not a regular file")
        if st.st_size == 0:
            self.fail("empty file")
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(16)
            is_zip = zipfile.is_zipfile(self.path)
        except OSError as exc:
            self.fail(f"cannot read ({exc.strerror or exc})")
        if not is_zip:
            if head[:1] == b"\x80" and head[2:14] == _LEGACY_MAGIC:
                self.fail("not a zip archive; legacy pre-1.6 torch format is not supported")
            if head.startswith(b"PK\x03\x04"):
                self.fail("truncated archive (zip central directory missing)")
            self.fail("not a zip archive (not a torch checkpoint)")
        return st.st_size

    def _index_members(self, file_size: int) -> None:
        infos = self._zip.infolist()
        if not infos:
            self.fail("zip archive has no members")
        tops = sorted({info.filename.split("/", 1)[0] for info in infos})
        if len(tops) != 1:
            self.fail(f"archive has {len(tops)} top-level folders ({', '.join(tops[:4])}); "
                      "a torch checkpoint has exactly one")
        self.prefix = tops[0] + "/"
        self._data: dict[str, zipfile.ZipInfo] = {}
        self._records: dict[str, zipfile.ZipInfo] = {}
        pickle_info = None
        seen: set[str] = set()
        for info in infos:
            name = info.filename
            if name in seen:
                self.fail(f"archive member {name} appears twice")
            seen.add(name)
            rest = name[len(self.prefix):] if name.startswith(self.prefix) else name
            self._check_member(info, file_size)
            match = _DATA_MEMBER.fullmatch(rest)
            if rest == "data.pkl":
                pickle_info = info
            elif match:
                self._data[match.group(1)] = info
            elif rest in _RECORD_MEMBERS:
                self._records[rest] = info
            else:
                self.fail(f"unexpected archive member {name}")
        if pickle_info is None:
            self.fail(f"archive has no {self.prefix}data.pkl")
        self._pickle = pickle_info
        self._check_records()

    def _check_member(self, info: zipfile.ZipInfo, file_size: int) -> None:
        if info.flag_bits & 0x1:
            self.fail(f"archive member {info.filename} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            self.fail(f"archive member {info.filename} is compressed; torch stores members as is")
        if info.file_size != info.compress_size:
            self.fail(f"archive member {info.filename} has inconsistent sizes")
        if info.header_offset + info.compress_size > file_size:
            self.fail(f"archive member {info.filename} extends past the end of the file (truncated)")

    def _check_records(self) -> None:
        if "byteorder" in self._records:
            order = self._read_small(self._records["byteorder"], _MAX_RECORD_BYTES).strip()
            if order != b"little":
                self.fail(f"storages are stored with byte order {order[:16]!r}; only little-endian "
                          "checkpoints are supported")
        if "version" in self._records:
            version = self._read_small(self._records["version"], _MAX_RECORD_BYTES).strip()
            if not version.isdigit():
                self.fail(f"unreadable archive version record {version[:16]!r}")

    def _read_small(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        if info.file_size > limit:
            self.fail(f"archive member {info.filename} is implausibly large ({info.file_size} bytes)")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            self.fail(f"corrupt archive member {info.filename} ({exc})")


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()
