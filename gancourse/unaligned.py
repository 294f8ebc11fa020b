"""The official CycleGAN datasets in their "unaligned" format: two folders of unpaired images, domain A and B.

``horse2zebra``, ``monet2photo``, ``apple2orange``, ... (see `DATASETS`) unpack to
``<root>/cyclegan/<name>/{trainA,trainB,testA,testB}/``, one image per file (horse2zebra: 1067 horses in trainA,
1334 zebras in trainB, 256x256 JPEGs); no image in A has a partner in B. `UnalignedPairs` reads them as the
official code does (junyanz/pytorch-CycleGAN-and-pix2pix, data/unaligned_dataset.py and data/base_dataset.py,
preprocess ``resize_and_crop``): the length is max(len(A), len(B)), item i is A[i % len(A)] beside a B drawn
uniformly at random (``serial=True``, the official ``--serial_batches``: B[i % len(B)]), and A and B each get
their own resize to ``load_size`` (bicubic), random ``crop_size`` crop and random horizontal flip.
``<root>`` is ``$GANCOURSE_DATA`` or the repository's ``data/`` folder. Fetch a dataset with
``python -m gancourse.unaligned download horse2zebra`` (a .zip, checked and unpacked by `gancourse.archives`);
list what is on disk with ``python -m gancourse.unaligned info``. An unusable image file raises `BrokenImage`
(the archive names used here are re-exported).
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
    "BASE_URL", "DATASETS", "FOLDER_NAMES", "IMAGE_EXTENSIONS", "Archive", "BrokenArchive", "BrokenImage",
    "UnalignedPairs", "UnverifiedDownloadWarning", "cyclegan_folder", "download", "image_files", "main",
]

BASE_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets"  # datasets/download_cyclegan_dataset.sh
FOLDER_NAMES = ("trainA", "trainB", "testA", "testB")


class Archive(NamedTuple):
    """Where an official dataset's zip is, and its published SHA-256 (None where none was found)."""

    url: str | None
    sha256: str | None


# The names the official datasets/download_cyclegan_dataset.sh offers. SHA-256s from tensorflow/datasets,
# tensorflow_datasets/url_checksums/cycle_gan.txt (commit ffe36c8b371c), listed there for the same zip files at
# the server the official script used before efrosgans, https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/
# datasets/ (the sizes match: horse2zebra.zip is 116867962 bytes at both). TFDS leaves out ae_photos ("trainA
# and trainB are missing"), so it is unverified here (the one candidate, from an MD5 list of unknown origin, was
# 93831625466b64eaeba58babc52d70f9). cityscapes has a TFDS entry, but the official script no longer serves it.
DATASETS: dict[str, Archive] = {
    "apple2orange": Archive(f"{BASE_URL}/apple2orange.zip",
                            "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8"),
    "summer2winter_yosemite": Archive(f"{BASE_URL}/summer2winter_yosemite.zip",
                                      "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9"),
    "horse2zebra": Archive(f"{BASE_URL}/horse2zebra.zip",
                           "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1"),
    "monet2photo": Archive(f"{BASE_URL}/monet2photo.zip",
                           "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04"),
    "cezanne2photo": Archive(f"{BASE_URL}/cezanne2photo.zip",
                             "3a6c10ca21f9485862f1cbd707744b9dc258954a04631271d23a3605eeb63cff"),
    "ukiyoe2photo": Archive(f"{BASE_URL}/ukiyoe2photo.zip",
                            "02a2a2fb5ecf425ca1bf86aca7304377da64a2a1d3b86df54eb65e4068bf3b08"),
    "vangogh2photo": Archive(f"{BASE_URL}/vangogh2photo.zip",
                             "362c3473e70be0944bda08d49d660eafdc2854df55d697835b8186d1d79caaff"),
    "maps": Archive(f"{BASE_URL}/maps.zip", "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e"),
    "cityscapes": Archive(None, None),  # the official script refuses to download it (Cityscapes license)
    "facades": Archive(f"{BASE_URL}/facades.zip", "9a31ebf3a31b9b5cd195dd5bf62e9308e00cb94604d1019e3889ac84248695c0"),
    "iphone2dslr_flower": Archive(f"{BASE_URL}/iphone2dslr_flower.zip",
                                  "8fcb5e374d631b107e1d961b8c4cd0a186aa2a4ff3e279923f4c426128de7113"),
    "ae_photos": Archive(f"{BASE_URL}/ae_photos.zip", None),
}


def cyclegan_folder(root: str | Path | None = None) -> Path:
    """Return ``<root>/cyclegan``, the folder that holds the archives and the extracted datasets."""
    return Path(root if root is not None else data_root()) / "cyclegan"


def download(name: str, root: str | Path | None = None) -> Path:
    """Download, verify and extract dataset ``name`` into ``<root>/cyclegan/<name>``; return that folder.

    An archive already at ``<root>/cyclegan/<name>.zip`` (copied in by hand) is verified and used as is; the
    archive is deleted once extracted, and a dataset with any of trainA/, trainB/, testA/, testB/ is left alone.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown CycleGAN dataset {name!r}; the official ones are {', '.join(DATASETS)}")
    folder, spec = cyclegan_folder(root), DATASETS[name]
    if spec.url is None:
        raise FileNotFoundError(
            f"{name} cannot be downloaded for license reasons: get gtFine_trainvaltest.zip and "
            "leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com, run the official "
            f"datasets/prepare_cityscapes_dataset.py, and put its photos and label maps in {folder / name}/trainA/ "
            "and trainB/ (and testA/, testB/)"
        )
    command = f"python -m gancourse.unaligned download {name}"
    archive = folder / f"{name}.zip"
    return install(spec.url, archive, "sha256", spec.sha256, markers=FOLDER_NAMES, command=command,
                   what="CycleGAN dataset")


class UnalignedPairs(torch.utils.data.Dataset):
    """Unpaired (A, B) images of one split, float tensors in [-1, 1] of shape (channels, crop_size, crop_size).

    ``name_or_folder`` is a name from `DATASETS` (read from ``<root>/cyclegan/<name>``) or a `Path` to a folder
    that holds ``<split>A/`` and ``<split>B/``; image files are found as the official code finds them (see
    `IMAGE_EXTENSIONS`). Item i is A[i % len(A)] and a B drawn uniformly at random, or B[i % len(B)] with
    ``serial=True``. ``train`` (default: ``split == "train"``): A and B are each resized to ``load_size``
    (bicubic) and get their own random ``crop_size`` crop and coin-flip horizontal flip. ``train=False`` follows
    the official test options: each is resized straight to ``crop_size``, nothing is cropped or flipped.
    ``direction="BtoA"`` returns (B, A), as the official model swaps them (A still cycles, B is still drawn).
    ``seed=None`` draws from torch's global generator (which DataLoader seeds per worker); an int gives the
    dataset its own ``torch.Generator``, so a fresh dataset read in the same order repeats its B draws, crops
    and flips (with ``num_workers=0``; each worker would copy the generator).
    """

    def __init__(
        self,
        name_or_folder: str | Path,
        split: str = "train",
        *,
        root: str | Path | None = None,
        load_size: int = 286,
        crop_size: int = 256,
        train: bool | None = None,
        direction: str = "AtoB",
        channels: int = 3,
        seed: int | None = None,
        serial: bool = False,
    ) -> None:
        check_options(load_size, crop_size, direction, channels)
        named = isinstance(name_or_folder, str) and name_or_folder in DATASETS
        dataset = cyclegan_folder(root) / name_or_folder if named else Path(name_or_folder)
        self.folder_a, self.folder_b = dataset / f"{split}A", dataset / f"{split}B"
        for folder in (self.folder_a, self.folder_b):
            if not folder.is_dir():
                there = [s.name for s in sorted(dataset.iterdir()) if s.is_dir()] if dataset.is_dir() else []
                fix = (
                    f"Run `python -m gancourse.unaligned download {name_or_folder}` on a machine with internet "
                    f"access and copy its {name_or_folder}/ folder to {dataset}" if named else
                    f"Point it at a folder that holds {split}A/ and {split}B/ "
                    f"(official datasets: {', '.join(DATASETS)})"
                )
                raise FileNotFoundError(
                    f"CycleGAN folder {folder} not found (folders there: {there or 'none'}). {fix}."
                )
        self.paths_a, self.paths_b = image_files(self.folder_a), image_files(self.folder_b)
        for folder, paths in ((self.folder_a, self.paths_a), (self.folder_b, self.paths_b)):
            if not paths:
                raise FileNotFoundError(
                    f"{folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); both domains need some"
                )
        self.load_size, self.crop_size = load_size, crop_size
        self.train, self.serial = (split == "train") if train is None else train, serial
        self.swap, self.mode = direction == "BtoA", "RGB" if channels == 3 else "L"
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def __len__(self) -> int:
        """max(len(A), len(B)), as the official dataset: an epoch shows every image of the larger domain."""
        return max(len(self.paths_a), len(self.paths_b))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return item ``index`` as (input, target): (A, B), or (B, A) when direction is "BtoA"."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} items")
        index %= len(self)
        count_b = len(self.paths_b)
        b_index = index % count_b if self.serial else int(torch.randint(count_b, (), generator=self.generator))
        a = self._transform(open_image(self.paths_a[index % len(self.paths_a)], self.mode))
        b = self._transform(open_image(self.paths_b[b_index], self.mode))
        return (b, a) if self.swap else (a, b)

    def _transform(self, image: Image.Image) -> torch.Tensor:
        """Resize, crop and flip one image with its own random draws; return it as a tensor in [-1, 1]."""
        return apply_jitter(image, draw_jitter(self.load_size, self.crop_size, self.train, self.generator))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m gancourse.unaligned download NAME | info [--root DIR]``; returns the exit status."""
    return dataset_cli(argv, "gancourse.unaligned", __doc__.splitlines()[0], list(DATASETS), download, cyclegan_folder,
                       FOLDER_NAMES, "images")


if __name__ == "__main__":
    sys.exit(main())
