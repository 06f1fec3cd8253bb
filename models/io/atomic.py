"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator


@contextlib.contextmanager
def atomic_path(target: str | Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target` atomically.
    On any error the temporary file is removed and `target` is untouched. `durable=False` skips the
    fsync (for bulk files that can be regenerated, where the rename alone is enough)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        if durable:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_stream(target: str | Path, write: Callable[[BinaryIO], None], durable: bool = True) -> None:
    """Call write(binary_file) on a temporary file and move it into place atomically."""
    with atomic_path(target, durable) as tmp, open(tmp, "wb") as fh:
        write(fh)


def atomic_save(target: str | Path, writer: Callable[[Path], None]) -> None:
    """Call writer(tmp_path) and move the result into place atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)
