"""The official pix2pix datasets in their "aligned" format: each file is one image holding A|B side by side.

``facades``, ``maps``, ``edges2shoes``, ... (see `DATASETS`) unpack to ``<root>/pix2pix/<name>/{train,val,test}/``;
in every image the left half is domain A and the right half the matching domain B image (facades: 512x256 files,
a 256x256 photo beside its 256x256 label map). `AlignedPairs` reads them as the official code does
(junyanz/pytorch-CycleGAN-and-pix2pix, data/aligned_dataset.py and data/base_dataset.py, preprocess
``resize_and_crop``): split at width/2, resize each half to ``load_size`` (bicubic), then one random
``crop_size`` crop and one random horizontal flip shared by A and B. ``<root>`` is ``$GANCOURSE_DATA`` or the
repository's ``data/`` folder. Fetch a dataset with ``python -m gancourse.aligned download facades``; list what is
on disk with ``python -m gancourse.aligned info``. A file that is not a usable A|B image raises `BrokenPairImage`.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gancourse.data import data_root, to_model_range

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"  # datasets/download_pix2pix_dataset.sh
# The image extensions of the official data/image_folder.py; other files in a split folder are ignored.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff"}
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


class UnverifiedDownloadWarning(UserWarning):
    """Warned when an archive with no published checksum is extracted; the warning gives its SHA-256."""


class BrokenPix2PixFile(ValueError):
    """A file on disk that cannot be used; the message names it, says what is wrong and how to fix it."""

    advice: str  # what to do about it, set by each subclass

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(path, problem)
        self.path, self.problem = Path(path), problem

    def __str__(self) -> str:
        return f"{self.path} is broken: {self.problem}. {self.advice}"


class BrokenArchive(BrokenPix2PixFile):
    """A downloaded archive that fails its checksum, is not a readable tar.gz, or holds unsafe members."""

    advice = "It was deleted, not extracted: run `python -m gancourse.aligned download NAME` again to fetch it anew."


class BrokenPairImage(BrokenPix2PixFile):
    """A file in a split folder that is not an A|B pair image (unreadable, odd width, unsupported mode)."""

    advice = "Replace it with a good copy from the dataset archive, or move it out of the split folder."


def pix2pix_folder(root: str | Path | None = None) -> Path:
    """Return ``<root>/pix2pix``, the folder that holds the archives and the extracted datasets."""
    return Path(root if root is not None else data_root()) / "pix2pix"


def _file_digest(path: Path, algorithm: str) -> str:
    """Return the hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(archive: Path, spec: Archive) -> None:
    """Raise `BrokenArchive` if the archive's MD5 is not the published one; without one, warn its SHA-256."""
    if spec.md5 is None:
        warnings.warn(
            f"{archive.name} has no published checksum, so it could not be verified; "
            f"its SHA-256 is {_file_digest(archive, 'sha256')}",
            UnverifiedDownloadWarning,
            stacklevel=3,
        )
    elif (got := _file_digest(archive, "md5")) != spec.md5:
        raise BrokenArchive(
            archive, f"its MD5 is {got}, not the published {spec.md5} (if the server's archive has changed, "
            f"extract a copy by hand into {archive.parent})"
        )


def _extract(archive: Path, folder: Path) -> None:
    """Extract a tar.gz into ``folder``, refusing members that are not plain files or folders inside it."""
    inside = folder.resolve()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                target = (inside / member.name).resolve()
                if not (member.isfile() or member.isdir()) or not target.is_relative_to(inside):
                    raise BrokenArchive(archive, f"member {member.name!r} is a link, device or path outside {folder}")
            tar.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BrokenArchive(archive, f"it is not a readable tar.gz archive ({error})") from None


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
    if (folder / name / "train").is_dir():
        return folder / name
    archive = folder / f"{name}.tar.gz"
    folder.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        partial = archive.with_suffix(".part")
        try:
            with urllib.request.urlopen(spec.url, timeout=60) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:  # URLError, timeouts and refused connections are all OSErrors
            partial.unlink(missing_ok=True)
            raise ConnectionError(
                f"Could not download pix2pix dataset {name!r} from {spec.url} ({error}). On a machine with "
                f"internet access run `python -m gancourse.aligned download {name}` (or fetch the URL by hand) "
                f"and copy {archive.name} to {archive}; then run the same command here to verify and extract it."
            ) from error
        partial.replace(archive)
    staging = folder / f".{name}.extracting"  # so that an interrupted extraction never looks complete
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _verify(archive, spec)
        _extract(archive, staging)
        if not (staging / name / "train").is_dir():
            raise BrokenArchive(archive, f"it holds no {name}/train/ folder")
    except BrokenArchive:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / name).replace(folder / name)
    shutil.rmtree(staging)
    archive.unlink()  # as the official script does: the extracted folder is all that is read
    return folder / name


def image_files(folder: Path) -> list[Path]:
    """Return the image files under ``folder`` (recursively, sorted), as the official make_dataset finds them."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _open_pair(path: Path, mode: str) -> Image.Image:
    """Open an A|B image as ``mode`` ("RGB" or "L"); raise `BrokenPairImage` for anything not faithfully so."""
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BrokenPairImage(path, f"PIL cannot read it as an image ({error})") from None
    if image.width % 2:
        raise BrokenPairImage(path, f"its width {image.width} is odd, so it cannot be split into A|B halves")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA", "PA") else None
    if (alpha is not None and alpha.getextrema()[0] < 255) or (image.mode == "P" and "transparency" in image.info):
        raise BrokenPairImage(path, f"it has transparent pixels (mode {image.mode}); save it as opaque RGB")
    if image.mode not in ("RGB", "L", "1", "P", "RGBA", "LA", "PA"):
        raise BrokenPairImage(
            path, f"its mode {image.mode} (16-bit, float, CMYK, ...) would change colours when converted to RGB "
            "as the official code does; save it as 8-bit RGB or grayscale"
        )
    return image.convert("RGB").convert(mode)


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
        sizes_are_ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (load_size, crop_size))
        if not (sizes_are_ints and 0 < crop_size <= load_size):
            raise ValueError(f"need integers 0 < crop_size <= load_size, got crop {crop_size!r}, load {load_size!r}")
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
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
        size, crop = (self.load_size if self.train else self.crop_size), self.crop_size
        x, y = (int(v) for v in torch.randint(0, size - crop + 1, (2,), generator=self.generator))
        flip = self.train and torch.rand((), generator=self.generator).item() > 0.5
        tensors = []
        for image in halves:
            image = image.resize((size, size), Image.BICUBIC).crop((x, y, x + crop, y + crop))
            if flip:
                image = image.transpose(Image.FLIP_LEFT_RIGHT)
            array = torch.from_numpy(np.array(image, dtype=np.uint8))
            tensors.append(to_model_range(array.unsqueeze(0) if array.ndim == 2 else array.permute(2, 0, 1)))
        a, b = tensors
        return (b, a) if self.swap else (a, b)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m gancourse.aligned download NAME | info [--root DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m gancourse.aligned", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["download", "info"])
    parser.add_argument("name", nargs="?", choices=list(DATASETS), help="dataset to download")
    parser.add_argument("--root", default=None, help="dataset root (default: $GANCOURSE_DATA or data/)")
    args = parser.parse_args(argv)
    if args.command == "download":
        if args.name is None:
            parser.error(f"download needs a dataset name: {', '.join(DATASETS)}")
        print(f"{args.name} is in {download(args.name, args.root)}")
        return 0
    folder = pix2pix_folder(args.root)
    on_disk = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
    for name in sorted(n for n in on_disk | set(DATASETS) if not n.startswith(".")):
        splits = [s for s in SPLIT_NAMES if (folder / name / s).is_dir()]
        counts = ", ".join(f"{s} {len(image_files(folder / name / s))}" for s in splits)
        hint = f"missing (python -m gancourse.aligned download {name})" if name in DATASETS else "no splits"
        print(f"{name:15s}: " + (f"{counts} pairs in {folder / name}" if splits else hint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
