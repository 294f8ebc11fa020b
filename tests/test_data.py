"""gancourse.data: IDX files, broken files, finding MNIST offline, the fallback to the test split, minibatches.

No test downloads: every path through ``load_mnist``'s download step has ``download_mnist`` replaced.
"""
from __future__ import annotations

import gzip
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gancourse import data
from gancourse.data import (
    SPLITS,
    Batches,
    BrokenMNISTFile,
    MNISTFallbackWarning,
    data_root,
    has_split,
    load_mnist,
    main,
    raw_folder,
    read_idx,
    to_model_range,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_fallback_memory(monkeypatch):
    """Forget which folders already warned, so each test sees the first-time behaviour."""
    monkeypatch.setattr(data, "_warned_fallback", set())


@pytest.fixture
def no_network(monkeypatch):
    """Make every download attempt fail as it would offline; record the roots it was asked for."""
    calls = []

    def offline(root=None):
        calls.append(root)
        raise OSError("no network")

    monkeypatch.setattr(data, "download_mnist", offline)
    return calls


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (gzipped when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


def write_split(root: Path, split: str, n: int, seed: int = 0, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Write a small synthetic MNIST split into ``root/MNIST/raw`` and return its (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder = raw_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{SPLITS[split][0]}{suffix}", images)
    write_idx(folder / f"{SPLITS[split][1]}{suffix}", labels)
    return images, labels


def expect_broken(path: Path, read, *args, **kwargs) -> str:
    """Call ``read(*args, **kwargs)``, expect a BrokenMNISTFile naming `path` and the fix, return its message."""
    with pytest.raises(BrokenMNISTFile) as error:
        read(*args, **kwargs)
    message = str(error.value)
    assert error.value.path == path
    assert message.startswith(f"{path} is broken: "), "the message should start with the file it is about"
    assert "Delete it and run `python -m gancourse.data download`" in message
    assert f"copy a good {path.name} into {path.parent}" in message
    return message


@pytest.fixture
def test_split_only(tmp_path, mnist_root) -> Path:
    """A dataset root holding the two real test-split files and no training split."""
    raw = raw_folder(tmp_path)
    raw.mkdir(parents=True)
    for name in SPLITS["test"]:
        shutil.copyfile(raw_folder(mnist_root) / f"{name}.gz", raw / f"{name}.gz")
    return tmp_path


# --- read_idx -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_reads_plain_and_gzipped_files(tmp_path, name):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    tensor = read_idx(write_idx(tmp_path / name, array))
    assert tensor.dtype == torch.uint8
    assert tuple(tensor.shape) == (2, 3, 4)
    assert torch.equal(tensor, torch.from_numpy(array))


def test_read_idx_reads_one_dimensional_label_files(tmp_path):
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    assert read_idx(write_idx(tmp_path / "labels-idx1-ubyte", labels)).tolist() == [7, 2, 1, 0, 4]


def test_read_idx_accepts_a_string_path(tmp_path):
    path = write_idx(tmp_path / "x-idx1-ubyte", np.array([1, 2], dtype=np.uint8))
    assert read_idx(str(path)).tolist() == [1, 2]


def test_read_idx_returns_a_writable_tensor(tmp_path):
    tensor = read_idx(write_idx(tmp_path / "x-idx1-ubyte", np.array([1, 2], dtype=np.uint8)))
    tensor += 1  # would fail or warn on a read-only buffer
    assert tensor.tolist() == [2, 3]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x00\x0d\x01" + (2).to_bytes(4, "big") + b"\x00" * 8,  # float32 type code
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00",  # looks like gzip, but not named .gz
        b"\x00\x00",  # too short to hold a magic number
    ],
    ids=["wrong-type-code", "gzip-bytes", "two-bytes"],
)
def test_read_idx_rejects_a_bad_magic_number(tmp_path, content):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    message = expect_broken(path, read_idx, path)
    assert f"bad magic number {content[:4].hex(' ')}: an unsigned-byte IDX file starts with 00 00 08" in message


def test_read_idx_rejects_a_bad_magic_number_inside_a_gzip_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"IDX?" + b"\x00" * 20))
    assert "bad magic number 49 44 58 3f" in expect_broken(path, read_idx, path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_rejects_an_empty_file(tmp_path, suffix):
    path = tmp_path / f"t10k-labels-idx1-ubyte{suffix}"
    path.write_bytes(b"")
    assert "it is empty (an interrupted download?)" in expect_broken(path, read_idx, path)


@pytest.mark.parametrize(
    "cut", [lambda raw: raw[: len(raw) // 2], lambda raw: raw[:6], lambda raw: raw[:-4]],
    ids=["half", "inside-gzip-header", "without-gzip-trailer"],
)
def test_read_idx_rejects_a_truncated_gzip_file(tmp_path, cut):
    """An interrupted download: a valid .gz with its end cut off (gzip itself raises a bare EOFError)."""
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.random.default_rng(0).integers(0, 256, (4, 28, 28)))
    path.write_bytes(cut(path.read_bytes()))
    assert "the gzip stream ends early (an interrupted download?)" in expect_broken(path, read_idx, path)


@pytest.mark.parametrize(
    "content",
    [b"<html><head><title>503 Service Unavailable</title></head></html>\n", b"garbage", b"\x00\x00\x08\x01\x00"],
    ids=["html-error-page", "text", "uncompressed-idx"],
)
def test_read_idx_rejects_a_gz_file_that_is_not_gzip(tmp_path, content):
    """A failed download that saved an error page under the .gz name (gzip itself raises a bare BadGzipFile)."""
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(content)
    message = expect_broken(path, read_idx, path)
    assert f"it is not gzip-compressed: it begins with {content[:32]!r}" in message


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        # gzip.compress writes a 10-byte header; 0xFF after it announces a deflate block of a type that does not exist
        (lambda raw: raw[:10] + b"\xff" + raw[11:], "Error -3 while decompressing data: invalid block type"),
        (lambda raw: raw[:100] + bytes(b ^ 0xFF for b in raw[100:116]) + raw[116:], "CRC check failed"),
        (lambda raw: raw[:-8] + bytes(4) + raw[-4:], "CRC check failed"),  # the stored checksum itself is wrong
        (lambda raw: raw + b"garbage", "Not a gzipped file"),  # something appended after the gzip stream
    ],
    ids=["invalid-deflate-block", "flipped-bytes", "wrong-checksum", "trailing-garbage"],
)
def test_read_idx_rejects_corrupt_gzip_data(tmp_path, damage, detail):
    plain = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.random.default_rng(0).integers(0, 256, (4, 28, 28)))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(damage(gzip.compress(plain.read_bytes())))
    message = expect_broken(path, read_idx, path)
    assert "its gzip data is corrupt (" in message and detail in message


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_rejects_a_truncated_file(tmp_path, suffix):
    full = tmp_path / f"full-idx3-ubyte{suffix}"
    write_idx(full, np.zeros((2, 28, 28), dtype=np.uint8))
    content = gzip.decompress(full.read_bytes()) if suffix else full.read_bytes()
    cut = tmp_path / f"cut-idx3-ubyte{suffix}"
    cut.write_bytes(gzip.compress(content[:-100]) if suffix else content[:-100])
    message = expect_broken(cut, read_idx, cut)
    assert "it declares shape (2, 28, 28) but holds 1468 values: it was cut short (an interrupted download?)" in message


def test_read_idx_explains_a_file_truncated_inside_its_header(tmp_path):
    full = write_idx(tmp_path / "full-idx3-ubyte", np.zeros((2, 28, 28), dtype=np.uint8))
    cut = tmp_path / "cut-idx3-ubyte"
    cut.write_bytes(full.read_bytes()[:10])  # magic number and half of the declared shape
    message = expect_broken(cut, read_idx, cut)
    assert "it ends after 10 bytes, inside its 16-byte header" in message
    assert "holds -" not in message, "a negative value count is no explanation"


def test_read_idx_rejects_trailing_bytes(tmp_path):
    path = write_idx(tmp_path / "x-idx1-ubyte", np.array([1, 2, 3], dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    message = expect_broken(path, read_idx, path)
    assert "it declares shape (3,) but holds 4 values: extra bytes follow the data" in message


def test_broken_mnist_file_is_a_value_error_that_survives_pickling(tmp_path):
    """Code that catches ValueError keeps working, and the error crosses process boundaries intact."""
    error = BrokenMNISTFile(tmp_path / "x-idx1-ubyte", "it is empty")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.problem, str(copy)) == (error.path, error.problem, str(error))


def test_read_idx_of_the_real_test_labels(mnist_root):
    labels = read_idx(raw_folder(mnist_root) / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits
    assert torch.bincount(labels.long()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- data_root, raw_folder, has_split ----------------------------------------------------------------------

def test_data_root_defaults_to_the_repositorys_data_folder(monkeypatch):
    monkeypatch.delenv("GANCOURSE_DATA", raising=False)
    assert data_root().resolve() == REPO / "data"


def test_data_root_honours_gancourse_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    assert data_root() == tmp_path


def test_data_root_expands_a_home_relative_gancourse_data(monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", "~/mnist-data")
    assert data_root() == Path.home() / "mnist-data"


def test_data_root_ignores_an_empty_gancourse_data(monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", "")
    assert data_root().resolve() == REPO / "data"


def test_raw_folder_uses_torchvision_layout(monkeypatch, tmp_path):
    assert raw_folder(tmp_path) == tmp_path / "MNIST" / "raw"
    assert raw_folder(str(tmp_path)) == tmp_path / "MNIST" / "raw"
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "elsewhere"))
    assert raw_folder() == tmp_path / "elsewhere" / "MNIST" / "raw"


def test_has_split_needs_both_files(tmp_path):
    assert not has_split("test", tmp_path)
    raw = raw_folder(tmp_path)
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", np.zeros((1, 28, 28), dtype=np.uint8))
    assert not has_split("test", tmp_path)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(1, dtype=np.uint8))  # plain and .gz may be mixed
    assert has_split("test", tmp_path)
    assert not has_split("train", tmp_path)


def test_has_split_on_the_shared_data(mnist_root):
    assert has_split("test", mnist_root)


def test_has_split_uses_gancourse_data_by_default(monkeypatch, tmp_path):
    write_split(tmp_path, "train", 2)
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    assert has_split("train")
    assert not has_split("test")


# --- load_mnist ---------------------------------------------------------------------------------------------

def test_load_mnist_reads_the_requested_split(tmp_path, no_network):
    images, labels = write_split(tmp_path, "train", 5, gz=False)
    x, y = load_mnist("train", root=tmp_path)
    assert x.dtype == torch.uint8 and tuple(x.shape) == (5, 1, 28, 28)
    assert y.dtype == torch.int64 and tuple(y.shape) == (5,)
    assert torch.equal(x[:, 0], torch.from_numpy(images))
    assert y.tolist() == labels.tolist()
    assert no_network == [], "nothing should be downloaded when the files are present"


def test_load_mnist_reads_the_real_test_split(mnist_root, no_network):
    images, labels = load_mnist("test", root=mnist_root)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    assert images.max() == 255 and images.min() == 0
    assert no_network == []


def test_load_mnist_falls_back_to_the_test_split_with_a_warning(test_split_only, no_network):
    with pytest.warns(MNISTFallbackWarning, match="test split") as record:
        images, labels = load_mnist("train", root=test_split_only)
    assert len(record) == 1
    assert str(raw_folder(test_split_only)) in str(record[0].message)
    assert record[0].filename == __file__, "the warning should point at the caller, not at gancourse"
    assert images.shape == (10000, 1, 28, 28)
    assert labels.shape == (10000,)
    assert no_network == [test_split_only], "the training split should have been looked for online first"


def test_load_mnist_fallback_without_download_does_not_try_the_network(test_split_only, no_network):
    with pytest.warns(MNISTFallbackWarning):
        images, _ = load_mnist("train", root=test_split_only, download=False)
    assert len(images) == 10000
    assert no_network == []


def test_load_mnist_fallback_warns_only_once_per_folder(test_split_only, tmp_path_factory, mnist_root, no_network):
    other = tmp_path_factory.mktemp("other")
    raw_folder(other).mkdir(parents=True)
    for name in SPLITS["test"]:
        shutil.copyfile(raw_folder(mnist_root) / f"{name}.gz", raw_folder(other) / f"{name}.gz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_mnist("train", root=test_split_only)
        load_mnist("train", root=test_split_only)
        load_mnist("train", root=other)
    fallback = [w for w in caught if issubclass(w.category, MNISTFallbackWarning)]
    assert len(fallback) == 2, "one warning per folder, however often it is loaded"
    assert str(raw_folder(test_split_only)) in str(fallback[0].message)
    assert str(raw_folder(other)) in str(fallback[1].message)


def test_fallback_warning_is_not_an_error_under_the_pytest_configuration(test_split_only, no_network):
    """pyproject.toml turns warnings into errors but ignores MNISTFallbackWarning (notebook tests rely on it)."""
    images, _ = load_mnist("train", root=test_split_only)
    assert len(images) == 10000


def test_load_mnist_does_not_fall_back_for_the_test_split(tmp_path, no_network):
    write_split(tmp_path, "train", 3)
    with pytest.raises(FileNotFoundError, match="MNIST test split not found"):
        load_mnist("test", root=tmp_path)


def test_load_mnist_with_nothing_on_disk_says_what_to_do(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as error:
        load_mnist("train", root=tmp_path)
    message = str(error.value)
    assert str(raw_folder(tmp_path)) in message
    for name in SPLITS["train"] + SPLITS["test"]:
        assert f"{name}.gz" in message
    assert "python -m gancourse.data download" in message
    assert "GANCOURSE_DATA" in message
    assert "download failed: no network" in message


def test_load_mnist_without_download_does_not_mention_a_download_failure(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as error:
        load_mnist("test", root=tmp_path, download=False)
    assert "download failed" not in str(error.value)
    assert "t10k-images-idx3-ubyte.gz" in str(error.value)
    assert "train-images" not in str(error.value)
    assert no_network == []


def test_load_mnist_treats_a_failing_mirror_like_no_network(tmp_path, monkeypatch):
    def mirror_down(root=None):
        raise RuntimeError("File not found or corrupted.")

    monkeypatch.setattr(data, "download_mnist", mirror_down)
    with pytest.raises(FileNotFoundError, match="corrupted"):
        load_mnist("test", root=tmp_path)


def test_load_mnist_uses_files_that_the_download_wrote(tmp_path, monkeypatch):
    written = {}

    def fake_download(root=None):
        written["train"] = write_split(Path(root), "train", 4, seed=1)
        written["test"] = write_split(Path(root), "test", 2, seed=2)
        return raw_folder(root)

    monkeypatch.setattr(data, "download_mnist", fake_download)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: the real training split is there now
        images, labels = load_mnist("train", root=tmp_path)
    assert images.shape == (4, 1, 28, 28)
    assert labels.tolist() == written["train"][1].tolist()


def test_load_mnist_default_root_is_gancourse_data(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(raw_folder(tmp_path))):
        load_mnist("train")
    assert no_network == [None]  # download_mnist resolves None to data_root() itself


@pytest.mark.parametrize("split", ["training", "val", "Train", ""])
def test_load_mnist_rejects_an_unknown_split(tmp_path, split, no_network):
    with pytest.raises(ValueError, match=r"split must be one of \['test', 'train'\]"):
        load_mnist(split, root=tmp_path)
    assert no_network == []


@pytest.mark.parametrize(
    ("image_shape", "labels", "broken_file", "problem"),
    [
        ((3, 14, 14), [0, 1, 2], "t10k-images-idx3-ubyte",
         "it holds an array of shape (3, 14, 14), not MNIST images of shape (N, 28, 28)"),
        ((3, 784), [0, 1, 2], "t10k-images-idx3-ubyte",
         "it holds an array of shape (3, 784), not MNIST images of shape (N, 28, 28)"),
        ((3, 28, 28), [0, 1, 2, 3], "t10k-labels-idx1-ubyte",
         "it holds labels of shape (4,), but t10k-images-idx3-ubyte beside it holds 3 images (one label per image)"),
        ((3, 28, 28), [[0, 1, 2]], "t10k-labels-idx1-ubyte",
         "it holds labels of shape (1, 3), but t10k-images-idx3-ubyte beside it holds 3 images"),
        ((3, 28, 28), [0, 1, 10], "t10k-labels-idx1-ubyte", "it holds the label 10; MNIST labels are 0 to 9"),
    ],
    ids=["wrong-image-size", "flat-images", "label-count", "labels-not-1d", "label-out-of-range"],
)
def test_load_mnist_rejects_files_that_are_not_mnist(tmp_path, no_network, image_shape, labels, broken_file, problem):
    raw = raw_folder(tmp_path)
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros(image_shape, dtype=np.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array(labels, dtype=np.uint8))
    assert problem in expect_broken(raw / broken_file, load_mnist, "test", root=tmp_path)
    assert no_network == [], "a file that is there but broken is reported, not downloaded again behind the user's back"


def test_load_mnist_names_an_interrupted_download(tmp_path, no_network):
    """The reported case: t10k-images-idx3-ubyte.gz cut short stopped load_mnist with a bare EOFError."""
    write_split(tmp_path, "test", 20)
    path = raw_folder(tmp_path) / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-500])
    assert "the gzip stream ends early" in expect_broken(path, load_mnist, "test", root=tmp_path)


def test_load_mnist_does_not_fall_back_from_a_broken_training_split(tmp_path, no_network):
    write_split(tmp_path, "test", 3)
    write_split(tmp_path, "train", 5)
    path = raw_folder(tmp_path) / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"<html>404 Not Found</html>")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "not gzip-compressed" in expect_broken(path, load_mnist, "train", root=tmp_path)
    assert caught == [], "a broken training split is an error, not a reason to train on the test split"
    assert no_network == []


def test_load_mnist_names_a_broken_test_split_when_falling_back(tmp_path, no_network):
    write_split(tmp_path, "test", 3)
    path = raw_folder(tmp_path) / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "inside its 16-byte header" in expect_broken(path, load_mnist, "train", root=tmp_path)
    assert caught == [], "no promise to use the test split when the test split cannot be read either"


# --- to_model_range -----------------------------------------------------------------------------------------

def test_to_model_range_maps_0_to_minus_1_and_255_to_1():
    pixels = torch.tensor([0, 255, 127, 128], dtype=torch.uint8)
    out = to_model_range(pixels)
    assert out.dtype == torch.float32
    assert out[0].item() == -1.0
    assert out[1].item() == 1.0
    assert out[2].item() < 0 < out[3].item()


def test_to_model_range_keeps_the_shape_and_leaves_the_input_alone():
    pixels = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    before = pixels.clone()
    out = to_model_range(pixels)
    assert out.shape == pixels.shape
    assert torch.equal(pixels, before)
    torch.testing.assert_close(out, pixels.double().div(127.5).sub(1).float())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_to_model_range_rejects_anything_but_uint8(dtype):
    with pytest.raises(TypeError, match="expected uint8 pixels"):
        to_model_range(torch.zeros(2, dtype=dtype))


# --- Batches ------------------------------------------------------------------------------------------------

def indexed_images(n: int) -> torch.Tensor:
    """Float images whose every pixel holds the image's index, so a batch tells which images it took."""
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()


def batch_indices(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].long().tolist()


def test_batches_of_uint8_images_are_float_minibatches_in_model_range():
    images = torch.randint(0, 256, (100, 1, 28, 28), dtype=torch.uint8)
    images[0] = 0
    images[1] = 255
    batches = Batches(images, 100)
    batch = next(batches)
    assert batch.shape == (100, 1, 28, 28)
    assert batch.dtype == torch.float32
    assert batch.min().item() == -1.0 and batch.max().item() == 1.0


def test_batches_keep_float_images_as_they_are():
    images = indexed_images(10)
    batch = next(Batches(images, 10))
    assert sorted(batch_indices(batch)) == list(range(10))


def test_batches_yield_every_image_once_per_epoch():
    batches = Batches(indexed_images(60), 12, seed=3)
    for _ in range(3):
        seen = [i for _ in range(len(batches)) for i in batch_indices(next(batches))]
        assert sorted(seen) == list(range(60))


def test_batches_drop_the_incomplete_last_batch():
    batches = Batches(indexed_images(10), 3)
    assert len(batches) == 3
    epoch = [batch_indices(next(batches)) for _ in range(3)]
    seen = [i for batch in epoch for i in batch]
    assert all(len(batch) == 3 for batch in epoch)
    assert len(set(seen)) == 9, "no image repeats within an epoch"
    assert len(next(batches)) == 3, "the next batch starts a new epoch instead of returning the leftover"


@pytest.mark.parametrize(("n", "batch_size", "expected"), [(60, 12, 5), (10, 3, 3), (10, 10, 1), (7, 1, 7)])
def test_batches_len_is_the_number_of_full_batches_per_epoch(n, batch_size, expected):
    assert len(Batches(indexed_images(n), batch_size)) == expected


def test_batches_reshuffle_between_epochs():
    batches = Batches(indexed_images(64), 64, seed=0)
    first, second = batch_indices(next(batches)), batch_indices(next(batches))
    assert sorted(first) == sorted(second) == list(range(64))
    assert first != second
    assert first != list(range(64)), "the first epoch is shuffled too"


def test_batches_with_the_same_seed_repeat_the_same_order():
    a = Batches(indexed_images(50), 10, seed=7)
    b = Batches(indexed_images(50), 10, seed=7)
    c = Batches(indexed_images(50), 10, seed=8)
    order_a = [batch_indices(next(a)) for _ in range(12)]
    order_b = [batch_indices(next(b)) for _ in range(12)]
    order_c = [batch_indices(next(c)) for _ in range(12)]
    assert order_a == order_b
    assert order_a != order_c


def test_batches_do_not_depend_on_the_global_torch_seed():
    torch.manual_seed(1)
    a = [batch_indices(next(Batches(indexed_images(30), 30, seed=0)))]
    torch.manual_seed(2)
    b = [batch_indices(next(Batches(indexed_images(30), 30, seed=0)))]
    assert a == b


def test_batches_keep_labels_aligned_with_images():
    n = 40
    batches = Batches(indexed_images(n), 8, labels=torch.arange(n) * 10, seed=5)
    for _ in range(2 * len(batches)):
        images, labels = next(batches)
        assert labels.dtype == torch.int64
        assert (labels == images[:, 0, 0, 0].long() * 10).all()


def test_batches_are_an_iterator():
    batches = Batches(indexed_images(4), 2)
    assert iter(batches) is batches
    taken = [b for _, b in zip(range(5), batches)]
    assert len(taken) == 5, "the iterator is endless"


def test_batches_live_on_the_requested_device():
    batches = Batches(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), 2, labels=torch.zeros(4), device="cpu")
    images, labels = next(batches)
    assert images.device.type == "cpu" and labels.device.type == "cpu"


@pytest.mark.parametrize("batch_size", [0, -1, 11])
def test_batches_reject_a_batch_size_outside_1_to_n(batch_size):
    with pytest.raises(ValueError, match=r"batch_size must be between 1 and 10"):
        Batches(indexed_images(10), batch_size)


@pytest.mark.parametrize("batch_size", [2.5, 4.0])
def test_batches_reject_a_non_integer_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        Batches(indexed_images(10), batch_size)


def test_batches_reject_labels_of_another_length():
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        Batches(indexed_images(10), 2, labels=torch.zeros(9))


def test_batches_of_real_mnist(mnist_test):
    images, labels = mnist_test
    batches = Batches(images[:1000], 128, labels=labels[:1000])
    x, y = next(batches)
    assert x.shape == (128, 1, 28, 28) and y.shape == (128,)
    assert -1.0 <= x.min().item() and x.max().item() <= 1.0
    assert len(batches) == 7


# --- command line -------------------------------------------------------------------------------------------

def test_cli_info_reports_present_and_missing_splits(test_split_only, capsys):
    assert main(["info", "--root", str(test_split_only)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "train: missing",
        f"test : present: 10000 images in {raw_folder(test_split_only)} "
        "(t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
    ]


def test_cli_info_with_an_empty_root(tmp_path, capsys):
    assert main(["info", "--root", str(tmp_path)]) == 0, "missing files are not an error: load_mnist can fetch them"
    out = capsys.readouterr().out
    assert "train: missing" in out and "test : missing" in out


def test_cli_info_defaults_to_gancourse_data(tmp_path, monkeypatch, capsys):
    write_split(tmp_path, "train", 2, gz=False)
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    assert main(["info"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"train: present: 2 images in {raw_folder(tmp_path)} (train-images-idx3-ubyte, train-labels-idx1-ubyte)",
        "test : missing",
    ]


def test_cli_info_reports_a_broken_file_and_fails(tmp_path, capsys):
    write_split(tmp_path, "train", 4)
    write_split(tmp_path, "test", 2)
    path = raw_folder(tmp_path) / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:30])
    assert main(["info", "--root", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("train: present: 4 images in ")
    assert lines[1] == f"test : BROKEN: {path}: the gzip stream ends early (an interrupted download?)"
    assert "Delete it and run `python -m gancourse.data download`" in lines[2]
    assert len(lines) == 3


def test_cli_info_exit_status_from_the_shell(tmp_path):
    """``python -m gancourse.data info`` exits non-zero when a file is broken, so scripts and CI can check it."""
    write_split(tmp_path, "test", 2)
    command = [sys.executable, "-m", "gancourse.data", "info", "--root", str(tmp_path)]
    good = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    (raw_folder(tmp_path) / "t10k-labels-idx1-ubyte.gz").write_bytes(b"<html>")
    broken = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert broken.returncode == 1, broken.stderr
    assert "test : BROKEN: " in broken.stdout and "t10k-labels-idx1-ubyte.gz" in broken.stdout


def test_cli_download_calls_download_mnist_with_the_root(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(data, "download_mnist", lambda root=None: calls.append(root) or raw_folder(root))
    assert main(["download", "--root", str(tmp_path)]) == 0
    assert calls == [str(tmp_path)]
    assert f"MNIST downloaded to {raw_folder(tmp_path)}" in capsys.readouterr().out


def test_cli_rejects_an_unknown_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fetch"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
