"""The official datasets' ``resize_and_crop`` preprocessing, shared by `gancourse.aligned` and `gancourse.unaligned`.

As junyanz/pytorch-CycleGAN-and-pix2pix's data/base_dataset.py does it: resize to ``load_size`` (bicubic), take
one random ``crop_size`` crop, flip horizontally on a coin flip; at test time resize straight to ``crop_size``
and leave the image alone. `draw_jitter` draws the crop and flip, `apply_jitter` applies them to one PIL image
and returns a tensor in [-1, 1], so a pair can share one draw (pix2pix) or draw for each image (CycleGAN).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from gancourse.data import to_model_range


class Jitter(NamedTuple):
    """One draw of the preprocessing: resize to ``size``, crop ``crop`` pixels at (x, y), flip or not."""

    size: int
    crop: int
    x: int
    y: int
    flip: bool


def check_options(load_size: int, crop_size: int, direction: str, channels: int) -> None:
    """Raise ValueError unless 0 < crop_size <= load_size are ints, direction is AtoB/BtoA and channels 1 or 3."""
    sizes_are_ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (load_size, crop_size))
    if not (sizes_are_ints and 0 < crop_size <= load_size):
        raise ValueError(f"need integers 0 < crop_size <= load_size, got crop {crop_size!r}, load {load_size!r}")
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def draw_jitter(load_size: int, crop_size: int, train: bool, generator: torch.Generator | None) -> Jitter:
    """Draw a crop position and a coin flip (training), or the identity on a ``crop_size`` resize (test)."""
    size = load_size if train else crop_size
    x, y = (int(v) for v in torch.randint(0, size - crop_size + 1, (2,), generator=generator))
    flip = train and torch.rand((), generator=generator).item() > 0.5
    return Jitter(size, crop_size, x, y, flip)


def apply_jitter(image: Image.Image, jitter: Jitter) -> torch.Tensor:
    """Resize, crop and flip ``image`` as drawn; return it as a (channels, crop, crop) float tensor in [-1, 1]."""
    size, crop, x, y = jitter.size, jitter.crop, jitter.x, jitter.y
    image = image.resize((size, size), Image.BICUBIC).crop((x, y, x + crop, y + crop))
    if jitter.flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    array = torch.from_numpy(np.array(image, dtype=np.uint8))
    return to_model_range(array.unsqueeze(0) if array.ndim == 2 else array.permute(2, 0, 1))
