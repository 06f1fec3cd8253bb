"""Real batches: resumable positions, epochs, stage changes, the dataset's declared framing."""
import json

import pytest
import torch

from models.train.data import BatchStream, dataset_framing, segmentation_dataset_factory
from models.train.distributed import DistInfo
from tests.models.train.helpers import MemoryDataset, write_dataset


def drain(stream: BatchStream, count: int) -> list[torch.Tensor]:
    return [stream.next()[0] for _ in range(count)]


def test_a_restored_position_continues_with_the_same_batches():
    stream = BatchStream(MemoryDataset, DistInfo(), seed=3)
    stream.configure(16, 4)
    drain(stream, 2)
    state = stream.state()
    torch.manual_seed(5)
    expected = drain(stream, 3)                       # crosses into epoch 1 (12 samples = 3 batches)
    assert stream.state()["epoch"] == 1
    again = BatchStream(MemoryDataset, DistInfo(), seed=3)
    again.load_state(state)
    torch.manual_seed(5)
    for a, b in zip(expected, drain(again, 3)):
        assert torch.equal(a, b)


def test_ranks_get_disjoint_shares_and_stage_changes_start_an_epoch():
    firsts = []
    for rank in (0, 1):
        stream = BatchStream(MemoryDataset, DistInfo(rank, 2), seed=0)
        stream.configure(16, 3)
        firsts.append({round(float(x.sum()), 2) for x in stream.next()[0]})    # flip-invariant identity
    assert not firsts[0] & firsts[1]
    stream.configure(32, 2)
    assert stream.state() == {"epoch": 1, "consumed": 0, "img_size": 32, "batch_size": 2}
    assert stream.next()[0].shape == (2, 3, 32, 32)


def test_a_dataset_smaller_than_a_batch_is_refused():
    stream = BatchStream(lambda size: MemoryDataset(size, count=3), DistInfo(0, 2), seed=0)
    with pytest.raises(ValueError, match="holds 3 samples; a batch needs at least 4"):
        stream.check(16, 2)


def test_framing_comes_from_the_dataset_description(tmp_path):
    root = write_dataset(tmp_path / "data", count=4, size=32)
    assert dataset_framing(root) is None
    marks = {"left_eye": [0.36, 0.46], "right_eye": [0.64, 0.46], "mouth": [0.5, 0.78]}
    (root / "meta.json").write_text(json.dumps({"framing": "model", "framing_landmarks": marks}))
    framing = dataset_framing(root)
    assert framing["eye_mid"] == [0.5, 0.46] and framing["mouth_mid"] == [0.5, 0.78]
    image, labels, _ = segmentation_dataset_factory(root, flip=False, swap_lr_on_flip=True)(16)[0]
    assert image.shape == (3, 16, 16) and labels.shape == (18, 16, 16)
