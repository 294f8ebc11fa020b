"""The official pix2pix datasets in their "aligned" format: each file is one image holding A|B side by side.

``facades``, ``maps``, ``edges2shoes``, ... (see `DATASETS`) unpack to ``<root>/pix2pix/<name>/{train,val,test}/``;
in every image the left half is domain A and the right half the matching domain B image (facades: 512x256 files,
a 256x256 photo beside its 256x256 label map). `AlignedPairs` reads them as the official code does
(junyanz/pytorch-CycleGAN-and-pix2pix, data/aligned_dataset.py and data/base_dataset.py, preprocess
``resize_and_crop``): split at width/2, resize each half to ``load_size`` (bicubic), then one random
``crop_size`` crop and one random horizontal flip shared by A and B. ``<root>`` is ``$GANCOURSE_DATA`` or the
repository's ``data/`` folder. Fetch a dataset with ``python -m gancourse.aligned download facades``; list what is
on disk with ``python -m gancourse.aligned info``. A file that is not a usable A|B image raises `BrokenPairImage`.
Fetching, checksums and safe extraction are `gancourse.archives`' (its names used here are re-exported).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image

from gancourse.archives import (
    IMAGE_EXTENSIONS,
    BrokenArchive,
    BrokenImage,
    UnverifiedDownloadWarning,
    dataset_cli,
    image_files,
    install,
    open_image,
)
from gancourse.data import data_root
from gancourse.jitter import apply_jitter, check_options, draw_jitter

__all__ = [
    "BASE_URL", "DATASETS", "IMAGE_EXTENSIONS", "SPLIT_NAMES", "AlignedPairs", "Archive", "BrokenArchive",
    "BrokenPairImage", "UnverifiedDownloadWarning", "download", "image_files", "main", "pix2pix_folder",
]

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"  # datasets/download_pix2pix_dataset.sh
SPLIT_NAMES = ("train", "val", "test")


class Archive(NamedTuple):
    """Where an official dataset's tar.gz is, and its published MD5 (None where none was found)."""

    url: str | None
    md5: str | None


# MD5s as published in TheProjectsGuy/MLHub, src/mlhub/pix2pix/data.py (commit d12398786f15), the one public
# list found. Its night2day entry lacks a comma (the MD5 is glued to "train"), so that code could never have
# checked it; night2day is therefore left unverified here (the candidate was fd21b1d447a1f927fed41aabedd85baa).
DATASETS: dict[str, Archive] = {
    "facades": Archive(f"{BASE_URL}/facades.tar.gz", "e2e25dd517e9d15828416ab329da2854"),
    "maps": Archive(f"{BASE_URL}/maps.tar.gz", "e5f65d26eb288457f5ac056deb94d154"),
    "edges2shoes": Archive(f"{BASE_URL}/edges2shoes.tar.gz", "71da478b54fedde126e234a2a050bc15"),
    "edges2handbags": Archive(f"{BASE_URL}/edges2handbags.tar.gz", "815592f22fa7f7534a286a25bb73bf03"),
    "night2day": Archive(f"{BASE_URL}/night2day.tar.gz", None),
    "cityscapes": Archive(None, None),  # the official script refuses to download it (Cityscapes license)
}


class BrokenPairImage(BrokenImage):
    """A file in a split folder that is not an A|B pair image (unreadable, odd width, unsupported mode)."""

    advice = "Replace it with a good copy from the dataset archive, or move it out of the split folder."


def pix2pix_folder(root: str | Path | None = None) -> Path:
    """Return ``<root>/pix2pix``, the folder that holds the archives and the extracted datasets."""
    return Path(root if root is not None else data_root()) / "pix2pix"


def download(name: str, root: str | Path | None = None) -> Path:
    """Download, verify and extract dataset ``name`` into ``<root>/pix2pix/<name>``; return that folder.

    An archive already at ``<root>/pix2pix/<name>.tar.gz`` (copied in by hand) is verified and used as is;
    the archive is deleted once extracted, and a dataset whose ``train/`` is already there is left alone.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown pix2pix dataset {name!r}; the official ones are {', '.join(DATASETS)}")
    folder, spec = pix2pix_folder(root), DATASETS[name]
    if spec.url is None:
        raise FileNotFoundError(
            f"{name} cannot be downloaded for license reasons: get gtFine_trainvaltest.zip and "
            "leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com, run the official "
            f"datasets/prepare_cityscapes_dataset.py, and put its output in {folder / name}"
        )
    command = f"python -m gancourse.aligned download {name}"
    archive = folder / f"{name}.tar.gz"
    return install(spec.url, archive, "md5", spec.md5, markers=("train",), command=command, what="pix2pix dataset")


def _open_pair(path: Path, mode: str) -> Image.Image:
    """Open an A|B image as ``mode`` ("RGB" or "L"); raise `BrokenPairImage` for anything not faithfully so."""
    image = open_image(path, mode, BrokenPairImage)
    if image.width % 2:
        raise BrokenPairImage(path, f"its width {image.width} is odd, so it cannot be split into A|B halves")
    return image


class AlignedPairs(torch.utils.data.Dataset):
    """The (A, B) pairs of one split, float tensors in [-1, 1] of shape (channels, crop_size, crop_size).

    ``name_or_folder`` is a name from `DATASETS` (read from ``<root>/pix2pix/<name>``) or a `Path` to a folder
    that holds ``<split>/``; image files are found as the official code finds them (see `IMAGE_EXTENSIONS`).
    ``train=True``: each half is resized to ``load_size`` (bicubic), then one random ``crop_size`` crop and one
    coin-flip horizontal flip are applied to both. ``train=False`` follows the official test options: load_size
    is set to crop_size (each half is resized straight to ``crop_size``, nothing is cropped) and nothing is
    flipped. ``direction="BtoA"`` swaps the halves. ``seed=None`` draws from torch's global generator (which
    DataLoader seeds per worker); an int gives the dataset its own ``torch.Generator``, so a fresh dataset read
    in the same order repeats its crops and flips (with ``num_workers=0``; each worker would copy the generator).
    """

    def __init__(
        self,
        name_or_folder: str | Path,
        split: str = "train",
        *,
        root: str | Path | None = None,
        load_size: int = 286,
        crop_size: int = 256,
        train: bool = True,
        direction: str = "AtoB",
        channels: int = 3,
        seed: int | None = None,
    ) -> None:
        check_options(load_size, crop_size, direction, channels)
        named = isinstance(name_or_folder, str) and name_or_folder in DATASETS
        dataset = pix2pix_folder(root) / name_or_folder if named else Path(name_or_folder)
        self.folder = dataset / split
        if not self.folder.is_dir():
            there = [s.name for s in sorted(dataset.iterdir()) if s.is_dir()] if dataset.is_dir() else []
            fix = (
                f"Run `python -m gancourse.aligned download {name_or_folder}` on a machine with internet access "
                f"and copy its {name_or_folder}/ folder to {dataset}" if named else
                f"Point it at a folder that holds {split}/ (official datasets: {', '.join(DATASETS)})"
            )
            raise FileNotFoundError(f"pix2pix split {self.folder} not found (splits there: {there or 'none'}). {fix}.")
        self.paths = image_files(self.folder)
        if not self.paths:
            raise FileNotFoundError(f"{self.folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.load_size, self.crop_size, self.train = load_size, crop_size, train
        self.swap, self.mode = direction == "BtoA", "RGB" if channels == 3 else "L"
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def __len__(self) -> int:
        """Number of A|B images in the split."""
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return pair ``index`` as (input, target): (A, B), or (B, A) when direction is "BtoA"."""
        pair = _open_pair(self.paths[index], self.mode)
        half = pair.width // 2
        halves = [pair.crop((0, 0, half, pair.height)), pair.crop((half, 0, pair.width, pair.height))]
        jitter = draw_jitter(self.load_size, self.crop_size, self.train, self.generator)  # one draw for both halves
        a, b = (apply_jitter(image, jitter) for image in halves)
        return (b, a) if self.swap else (a, b)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m gancourse.aligned download NAME | info [--root DIR]``; returns the exit status."""
    return dataset_cli(argv, "gancourse.aligned", __doc__.splitlines()[0], list(DATASETS), download, pix2pix_folder,
                       SPLIT_NAMES, "pairs")


if __name__ == "__main__":
    sys.exit(main())
