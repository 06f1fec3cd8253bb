"""MRC2014 and .npy density files."""
import struct

import numpy as np
import pytest

from models.export.volume_io import VolumeFileError, load_mrc, save_mrc, save_npy


@pytest.fixture()
def volume():
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 6, 7)).astype(np.float32) * 40


def test_mrc_header_follows_mrc2014(tmp_path, volume):
    path = save_mrc(tmp_path / "v.mrc", volume, voxel_size=2.0, labels=("hello",))
    raw = path.read_bytes()
    assert len(raw) == 1024 + volume.size * 4
    nx, ny, nz, mode, *start = struct.unpack_from("<7i", raw, 0)
    assert (nx, ny, nz, mode, start) == (7, 6, 5, 2, [0, 0, 0])
    assert struct.unpack_from("<3i", raw, 28) == (7, 6, 5)                       # MX MY MZ
    assert struct.unpack_from("<6f", raw, 40) == (14.0, 12.0, 10.0, 90.0, 90.0, 90.0)
    assert struct.unpack_from("<3i", raw, 64) == (1, 2, 3)                        # axis order
    dmin, dmax, dmean = struct.unpack_from("<3f", raw, 76)
    assert (dmin, dmax) == (volume.min(), volume.max()) and dmean == pytest.approx(volume.mean(), rel=1e-5)
    assert struct.unpack_from("<2i", raw, 88) == (1, 0)                           # ISPG, NSYMBT
    assert struct.unpack_from("<i", raw, 108)[0] == 20140
    assert raw[208:212] == b"MAP " and raw[212:216] == b"\x44\x44\x00\x00"
    assert struct.unpack_from("<f", raw, 216)[0] == pytest.approx(volume.std(), rel=1e-5)
    assert struct.unpack_from("<i", raw, 220)[0] == 1 and raw[224:229] == b"hello"
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4", offset=1024).reshape(5, 6, 7), volume)


def test_round_trips_and_bad_input(tmp_path, volume):
    np.testing.assert_array_equal(load_mrc(save_mrc(tmp_path / "v.mrc", volume)), volume)
    np.testing.assert_array_equal(np.load(save_npy(tmp_path / "v.npy", volume)), volume)
    with pytest.raises(ValueError, match="3D"):
        save_mrc(tmp_path / "flat.mrc", volume[0])
    (tmp_path / "junk.mrc").write_bytes(b"x" * 2000)
    with pytest.raises(VolumeFileError, match="junk.mrc: not an MRC2014 file"):
        load_mrc(tmp_path / "junk.mrc")
    truncated = save_mrc(tmp_path / "cut.mrc", volume).read_bytes()[:1500]
    (tmp_path / "cut.mrc").write_bytes(truncated)
    with pytest.raises(VolumeFileError, match="truncated"):
        load_mrc(tmp_path / "cut.mrc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mrc", "junk.mrc", "v.mrc", "v.npy"]  # no temp files
