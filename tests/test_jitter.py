"""gancourse.jitter: the official resize_and_crop preprocessing, its draws and its argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gancourse.jitter import Jitter, apply_jitter, check_options, draw_jitter


def ramp(mode: str = "L", size: int = 8) -> Image.Image:
    """An image whose pixel value grows left to right, so crops and flips are visible in the numbers."""
    row = np.linspace(0, 255, size, dtype=np.uint8)
    array = np.tile(row, (size, 1))
    return Image.fromarray(np.stack([array] * 3, -1) if mode == "RGB" else array, mode)


@pytest.mark.parametrize("load, crop, direction, channels, message", [
    (256, 286, "AtoB", 3, "crop_size <= load_size"),
    (286, 0, "AtoB", 3, "crop_size <= load_size"),
    (286.0, 256, "AtoB", 3, "integers"),
    (True, 1, "AtoB", 3, "integers"),
    (286, 256, "A2B", 3, "'AtoB' or 'BtoA'"),
    (286, 256, "AtoB", 2, "1 (grayscale) or 3 (RGB)"),
])
def test_bad_options_are_named(load, crop, direction, channels, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_options(load, crop, direction, channels)


def test_good_options_pass():
    check_options(286, 256, "BtoA", 1)
    check_options(256, 256, "AtoB", 3)


def test_test_time_draw_is_a_plain_resize():
    for _ in range(20):
        assert draw_jitter(286, 256, False, None) == Jitter(256, 256, 0, 0, False)


def test_training_draws_cover_every_crop_position_and_both_flips():
    generator = torch.Generator().manual_seed(0)
    draws = [draw_jitter(10, 8, True, generator) for _ in range(400)]
    assert {d.size for d in draws} == {10} and {d.crop for d in draws} == {8}
    assert {d.x for d in draws} == {0, 1, 2} and {d.y for d in draws} == {0, 1, 2}
    assert 0.4 < np.mean([d.flip for d in draws]) < 0.6


def test_a_seeded_generator_repeats_its_draws():
    def draws():
        generator = torch.Generator().manual_seed(3)
        return [draw_jitter(286, 256, True, generator) for _ in range(5)]

    assert draws() == draws()


@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3)])
def test_apply_gives_channels_first_tensors_in_model_range(mode, channels):
    out = apply_jitter(ramp(mode), Jitter(8, 6, 1, 2, False))
    assert out.shape == (channels, 6, 6) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1


def test_apply_crops_where_drawn_and_flips_left_to_right():
    image = ramp()
    full = apply_jitter(image, Jitter(8, 8, 0, 0, False))
    assert torch.all(full[0, :, 1:] > full[0, :, :-1]), "the ramp should grow left to right"
    assert full.min() == -1 and full.max() == 1
    crop = apply_jitter(image, Jitter(8, 4, 3, 1, False))
    assert torch.equal(crop, full[:, 1:5, 3:7])
    flipped = apply_jitter(image, Jitter(8, 4, 3, 1, True))
    assert torch.equal(flipped, crop.flip(-1))


def test_apply_resizes_before_cropping():
    out = apply_jitter(ramp(size=4), Jitter(8, 8, 0, 0, False))
    assert out.shape == (1, 8, 8)
