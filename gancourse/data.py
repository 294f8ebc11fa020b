"""MNIST as one in-memory tensor: finding it, reading it offline, and fast shuffled minibatches.

Files live in torchvision's layout, ``<root>/MNIST/raw/*-idx?-ubyte[.gz]``, where ``<root>`` is
``$GANCOURSE_DATA`` or the repository's ``data/`` folder. Fill it ahead of an offline class with
``python -m gancourse.data download``; check it with ``python -m gancourse.data info``. A file that is
on disk but unreadable (cut short, not gzip, corrupt, not MNIST-shaped) raises `BrokenMNISTFile`, which names
the file, what is wrong with it and how to replace it.
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

DATA_ENV = "GANCOURSE_DATA"
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {0x08: np.uint8}
_GZIP_SIGNATURE = b"\x1f\x8b"


class MNISTFallbackWarning(UserWarning):
    """Warned once when the 10,000-image test split stands in for the missing training split."""


_warned_fallback: set[Path] = set()


class BrokenMNISTFile(ValueError):
    """An MNIST file that is on disk but unusable; the message names it, says what is wrong and how to fix it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(path, problem)
        self.path = Path(path)
        self.problem = problem

    @property
    def advice(self) -> str:
        """What to do about the file: fetch it again, or copy a good one in its place."""
        return (
            "Delete it and run `python -m gancourse.data download` on a machine with internet access, "
            f"or copy a good {self.path.name} into {self.path.parent}."
        )

    def __str__(self) -> str:
        return f"{self.path} is broken: {self.problem}. {self.advice}"


def data_root() -> Path:
    """Return the dataset root: ``$GANCOURSE_DATA`` if set, else the repository's ``data/``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "data"


def raw_folder(root: str | Path | None = None) -> Path:
    """Return the folder that holds (or will hold) the MNIST IDX files."""
    return Path(root if root is not None else data_root()) / "MNIST" / "raw"


def _read_content(path: Path) -> bytes:
    """Return the bytes of a file, decompressed when its name ends in .gz."""
    raw = path.read_bytes()
    if not raw:
        raise BrokenMNISTFile(path, "it is empty (an interrupted download?)")
    if path.suffix != ".gz":
        return raw
    if not raw.startswith(_GZIP_SIGNATURE):
        raise BrokenMNISTFile(
            path, f"it is not gzip-compressed: it begins with {raw[:32]!r} (a failed download can leave an error page)"
        )
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise BrokenMNISTFile(path, "the gzip stream ends early (an interrupted download?)") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise BrokenMNISTFile(path, f"its gzip data is corrupt ({error})") from None


def read_idx(path: str | Path) -> torch.Tensor:
    """Read one IDX file (optionally gzipped) into a uint8 tensor of the shape it declares.

    Raises `BrokenMNISTFile` for a file that is empty, cut short, not gzip though named .gz, corrupt, has a
    bad magic number, or holds more or fewer values than its header declares.
    """
    path = Path(path)
    content = _read_content(path)
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        raise BrokenMNISTFile(
            path,
            f"bad magic number {content[:4].hex(' ')}: an unsigned-byte IDX file starts with 00 00 08 "
            "and its number of dimensions",
        )
    ndim = content[3]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise BrokenMNISTFile(
            path, f"it ends after {len(content)} bytes, inside its {header}-byte header (an interrupted download?)"
        )
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected, held = int(np.prod(shape)), len(content) - header
    if held != expected:
        why = "it was cut short (an interrupted download?)" if held < expected else "extra bytes follow the data"
        raise BrokenMNISTFile(path, f"it declares shape {shape} but holds {held} values: {why}")
    array = np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())


def _split_files(root: str | Path | None, split: str) -> tuple[Path, Path] | None:
    """Return the (images, labels) files of a split if both exist, plain or gzipped."""
    folder = raw_folder(root)
    found = []
    for name in SPLITS[split]:
        candidates = [folder / name, folder / f"{name}.gz"]
        match = next((p for p in candidates if p.is_file()), None)
        if match is None:
            return None
        found.append(match)
    return found[0], found[1]


def has_split(split: str, root: str | Path | None = None) -> bool:
    """True if both files of `split` ("train" or "test") are on disk under `root` (readable or not)."""
    return _split_files(root, split) is not None


def _read_split(files: tuple[Path, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an (images, labels) pair of files; raise `BrokenMNISTFile` for the one that is not MNIST."""
    images_file, labels_file = files
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise BrokenMNISTFile(
            images_file, f"it holds an array of shape {tuple(images.shape)}, not MNIST images of shape (N, 28, 28)"
        )
    if labels.shape != images.shape[:1]:
        raise BrokenMNISTFile(
            labels_file,
            f"it holds labels of shape {tuple(labels.shape)}, but {images_file.name} beside it holds "
            f"{len(images)} images (one label per image)",
        )
    if len(labels) and labels.max() > 9:
        raise BrokenMNISTFile(labels_file, f"it holds the label {labels.max().item()}; MNIST labels are 0 to 9")
    return images.unsqueeze(1), labels.long()


def download_mnist(root: str | Path | None = None) -> Path:
    """Download both MNIST splits through torchvision into ``<root>/MNIST/raw`` and return it."""
    from torchvision.datasets import MNIST

    root = Path(root if root is not None else data_root())
    for train in (True, False):
        MNIST(str(root), train=train, download=True)
    return raw_folder(root)


def load_mnist(
    split: str = "train", root: str | Path | None = None, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST ``(images, labels)``: uint8 ``(N, 1, 28, 28)`` and int64 ``(N,)``.

    Missing files are downloaded through torchvision. Offline, a missing training split falls back to
    the 10,000-image test split (with a one-time warning); with nothing on disk the error says what to do.
    A file that is on disk but unreadable raises `BrokenMNISTFile` naming it: it is never downloaded again
    behind your back, and a broken training split never falls back to the test split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    files = _split_files(root, split)
    download_error: Exception | None = None
    if files is None and download:
        try:
            download_mnist(root)
        except (OSError, RuntimeError) as error:  # no network, or a mirror that failed
            download_error = error
        files = _split_files(root, split)
    if files is not None:
        return _read_split(files)

    fallback = _split_files(root, "test") if split == "train" else None
    folder = raw_folder(root)
    if fallback is not None:
        images, labels = _read_split(fallback)
        if folder not in _warned_fallback:
            _warned_fallback.add(folder)
            warnings.warn(
                f"MNIST training split not found in {folder} and could not be downloaded; "
                "using the 10,000-image test split instead.",
                MNISTFallbackWarning,
                stacklevel=2,
            )
        return images, labels

    names = ", ".join(f"{n}.gz" for n in SPLITS[split] + (SPLITS["test"] if split == "train" else ()))
    reason = f" (download failed: {download_error})" if download_error else ""
    raise FileNotFoundError(
        f"MNIST {split} split not found in {folder}{reason}. Either run "
        f"`python -m gancourse.data download` on a machine with internet access, or copy {names} "
        f"into {folder}, or set {DATA_ENV} to a folder that holds MNIST/raw/."
    )


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """Map uint8 pixels in [0, 255] to float32 in [-1, 1], the range of a tanh generator."""
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pixels, got {images.dtype}")
    return images.float().div_(127.5).sub_(1.0)


class Batches(Iterator):
    """Endless shuffled minibatches of images in [-1, 1] (and labels), already on the training device.

    The whole dataset is converted once and kept on ``device``; each epoch is one ``torch.randperm``,
    so no per-image work happens in the training loop. Incomplete final batches are dropped.
    """

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int,
        *,
        labels: torch.Tensor | None = None,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= len(images):
            raise ValueError(f"batch_size must be between 1 and {len(images)}, got {batch_size}")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        data = to_model_range(images) if images.dtype == torch.uint8 else images.float()
        self.images = data.to(device)
        self.labels = labels.to(device) if labels is not None else None
        self.batch_size = batch_size
        self._generator = torch.Generator().manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._position = 0

    def __len__(self) -> int:
        """Number of full batches in one epoch."""
        return len(self.images) // self.batch_size

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self._position + self.batch_size > len(self._order):
            self._order = torch.randperm(len(self.images), generator=self._generator).to(self.images.device)
            self._position = 0
        index = self._order[self._position : self._position + self.batch_size]
        self._position += self.batch_size
        if self.labels is None:
            return self.images[index]
        return self.images[index], self.labels[index]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m gancourse.data download|info [--root DIR]``; returns the exit status.

    ``info`` reads every file it finds and exits with status 1 if one is broken.
    """
    parser = argparse.ArgumentParser(prog="python -m gancourse.data", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["download", "info"])
    parser.add_argument("--root", default=None, help=f"dataset root (default: ${DATA_ENV} or data/)")
    args = parser.parse_args(argv)
    if args.command == "download":
        print(f"MNIST downloaded to {download_mnist(args.root)}")
        return 0
    status = 0
    for split in SPLITS:
        files = _split_files(args.root, split)
        if files is None:
            print(f"{split:5s}: missing")
            continue
        try:
            images, _ = _read_split(files)
        except BrokenMNISTFile as error:
            print(f"{split:5s}: BROKEN: {error.path}: {error.problem}\n       {error.advice}")
            status = 1
        else:
            print(f"{split:5s}: present: {len(images)} images in {files[0].parent} ({files[0].name}, {files[1].name})")
    return status


if __name__ == "__main__":
    sys.exit(main())
