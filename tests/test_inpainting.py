"""gancourse.inpainting: padding, square holes, the paired minibatches, the held-out pairs and their scores.

No test downloads: ``download_mnist`` is replaced by one that fails as it would offline. The held-out pairs come
from the real MNIST test split; scores are computed on a 400-pair slice to keep the classifier passes short.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from gancourse import data
from gancourse.data import DATA_ENV, SPLITS, has_split, raw_folder, to_model_range
from gancourse.inpainting import (
    HELD_OUT,
    HOLE,
    HOLE_VALUE,
    IMAGE_SIZE,
    InpaintingBatches,
    InpaintingData,
    crop_digits,
    cut_holes,
    grey_share,
    inpainting_data,
    pad_digits,
    psnr,
    random_holes,
    score,
)
from test_data import write_split

BOX = range(6, 26)  # rows (and columns) of a padded 32x32 image that hold MNIST's 20x20 digit box


def offline(root=None):
    raise OSError("no network")


def load_offline(monkeypatch, root) -> InpaintingData:
    """inpainting_data() with GANCOURSE_DATA at `root` and downloads failing."""
    monkeypatch.setenv(DATA_ENV, str(root))
    monkeypatch.setattr(data, "download_mnist", offline)
    monkeypatch.setattr(data, "_warned_fallback", set())
    return inpainting_data()


@pytest.fixture(scope="module")
def held(mnist_root):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return load_offline(monkeypatch, mnist_root)


def digit_bytes(images: torch.Tensor) -> list[bytes]:
    """Pixel bytes of each uint8 (N, 1, 28, 28) digit, or of each padded float (N, 1, 32, 32) one."""
    if images.dtype != torch.uint8:
        images = crop_digits(images).add(1).mul(127.5).round().to(torch.uint8)
    return [image.numpy().tobytes() for image in images]


def hole_corners(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The first masked row and column of each mask."""
    rows, cols = masks[:, 0].any(dim=2), masks[:, 0].any(dim=1)
    return rows.float().argmax(dim=1), cols.float().argmax(dim=1)


# --- pad_digits, crop_digits --------------------------------------------------------------------------------

def test_pad_digits_surrounds_the_digit_with_paper():
    digits = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    padded = pad_digits(digits)
    assert padded.shape == (3, 1, IMAGE_SIZE, IMAGE_SIZE) and padded.dtype == torch.float32
    assert torch.equal(padded[:, :, 2:30, 2:30], to_model_range(digits))
    border = torch.ones(IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (padded[:, :, border] == -1.0).all()
    assert torch.equal(pad_digits(to_model_range(digits)), padded), "uint8 and [-1, 1] input agree"
    assert torch.equal(pad_digits(to_model_range(digits).double()), padded)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (2, 28, 28), (2, 3, 28, 28)])
def test_pad_digits_rejects_other_shapes_naming_them(shape):
    with pytest.raises(ValueError, match=re.escape(f"(N, 1, 28, 28), got {shape}")):
        pad_digits(torch.zeros(shape))


def test_pad_digits_rejects_integer_pixels_other_than_uint8():
    with pytest.raises(TypeError, match="expected uint8 pixels or float images in \\[-1, 1\\], got torch.int64"):
        pad_digits(torch.full((1, 1, 28, 28), 255, dtype=torch.int64))


def test_pad_digits_rejects_a_non_tensor():
    with pytest.raises(ValueError, match="got ndarray"):
        pad_digits(np.zeros((1, 1, 28, 28)))


def test_crop_digits_undoes_pad_digits():
    digits = to_model_range(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8))
    assert torch.equal(crop_digits(pad_digits(digits)), digits)


def test_crop_digits_rejects_other_shapes_naming_them():
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\), got \(2, 1, 28, 28\)"):
        crop_digits(torch.zeros(2, 1, 28, 28))


# --- random_holes, cut_holes --------------------------------------------------------------------------------

def test_random_holes_are_one_square_inside_the_digit_box():
    masks = random_holes(500, torch.Generator().manual_seed(0))
    assert masks.shape == (500, 1, IMAGE_SIZE, IMAGE_SIZE) and masks.dtype == torch.bool
    assert (masks.sum(dim=(1, 2, 3)) == HOLE * HOLE).all()
    outside = torch.ones(IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    outside[BOX.start:BOX.stop, BOX.start:BOX.stop] = False
    assert not masks[:, :, outside].any(), "holes stay inside rows and columns 6 to 25"
    rows, cols = masks[:, 0].any(dim=2), masks[:, 0].any(dim=1)
    assert (rows.sum(dim=1) == HOLE).all() and (cols.sum(dim=1) == HOLE).all()
    top, left = hole_corners(masks)
    for i in range(len(masks)):  # HOLE*HOLE pixels within HOLE rows and HOLE columns: the full square
        assert masks[i, 0, top[i]:top[i] + HOLE, left[i]:left[i] + HOLE].all()


def test_random_holes_cover_every_corner_position():
    top, left = hole_corners(random_holes(2000, torch.Generator().manual_seed(1)))
    possible = list(range(BOX.start, BOX.stop - HOLE + 1))  # 6 to 12 for a 14-pixel hole
    assert sorted(set(top.tolist())) == possible
    assert sorted(set(left.tolist())) == possible
    assert len(set(zip(top.tolist(), left.tolist()))) == len(possible) ** 2, "rows and columns vary independently"


def test_random_holes_with_a_seed_repeat():
    a = random_holes(50, torch.Generator().manual_seed(3))
    b = random_holes(50, torch.Generator().manual_seed(3))
    c = random_holes(50, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("hole", [1, 5, 20])
def test_random_holes_respect_the_hole_size(hole):
    masks = random_holes(200, torch.Generator().manual_seed(0), hole=hole)
    assert (masks.sum(dim=(1, 2, 3)) == hole * hole).all()
    rows = masks[:, 0].any(dim=2).nonzero()[:, 1]
    assert rows.min() >= BOX.start and rows.max() < BOX.stop


@pytest.mark.parametrize("hole", [0, -3, 21, 32, 2.5, True])
def test_random_holes_reject_a_hole_that_is_not_a_fitting_int(hole):
    with pytest.raises(ValueError, match=rf"hole must be an int between 1 and 20 pixels, got {hole!r}"):
        random_holes(4, hole=hole)


def test_random_holes_live_on_the_requested_device():
    assert random_holes(3, device="cpu").device.type == "cpu"
    assert random_holes(3, device=torch.device("cpu")).device.type == "cpu"


def test_cut_holes_greys_out_the_masked_pixels_only():
    targets = pad_digits(torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8))
    before = targets.clone()
    masks = random_holes(8, torch.Generator().manual_seed(0))
    inputs = cut_holes(targets, masks)
    assert (inputs[masks] == HOLE_VALUE).all() and HOLE_VALUE == 0.0
    assert torch.equal(inputs[~masks], targets[~masks])
    assert torch.equal(targets, before), "the targets are not modified in place"


# --- InpaintingBatches --------------------------------------------------------------------------------------

def the_hole(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The one HOLE x HOLE square that turns each target into its input, checked and returned as masks."""
    differ = inputs != targets
    rows, cols = differ[:, 0].any(dim=2).float().argmax(dim=1), differ[:, 0].any(dim=1).float().argmax(dim=1)
    masks = torch.zeros_like(differ)
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist())):
        masks[i, 0, r:r + HOLE, c:c + HOLE] = True
    assert torch.equal(inputs, cut_holes(targets, masks))
    return masks


def test_inpainting_batches_yield_pairs_with_one_square_hole(mnist_test):
    batches = InpaintingBatches(mnist_test[0][:100], 16, seed=0)
    inputs, targets = next(batches)
    assert inputs.shape == targets.shape == (16, 1, IMAGE_SIZE, IMAGE_SIZE)
    masks = the_hole(inputs, targets)
    assert ((inputs != targets) & ~masks).sum() == 0
    assert (targets[masks] != HOLE_VALUE).all(), "real digits have no exact 0.0, so every hole pixel differs"


def test_inpainting_batches_give_each_digit_a_fresh_hole_and_never_end():
    digits = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    batches = InpaintingBatches(digits, 4, seed=0)
    assert len(batches) == 1
    holes = {}
    for _ in range(10):  # ten epochs of one batch
        inputs, targets = next(batches)
        for image, mask in zip(targets, the_hole(inputs, targets)):
            holes.setdefault(image.numpy().tobytes(), set()).add(mask.numpy().tobytes())
    assert len(holes) == 4
    assert all(len(seen) > 1 for seen in holes.values()), "the same digit gets different holes"


def test_inpainting_batches_with_the_same_seed_repeat():
    digits = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    a, b, c = (InpaintingBatches(digits, 8, seed=s) for s in (5, 5, 6))
    for _ in range(7):
        (xa, ya), (xb, yb), (xc, _) = next(a), next(b), next(c)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(xa, xc)


@pytest.mark.parametrize(("n", "batch_size", "expected"), [(40, 8, 5), (10, 3, 3), (7, 7, 1)])
def test_inpainting_batches_len_is_the_number_of_full_batches(n, batch_size, expected):
    assert len(InpaintingBatches(torch.zeros(n, 1, 28, 28, dtype=torch.uint8), batch_size)) == expected


# --- inpainting_data ----------------------------------------------------------------------------------------

def test_inpainting_data_offline_trains_on_the_other_test_digits(held, mnist_root, mnist_test):
    assert not has_split("train", mnist_root), "this test is about the fallback: only the test split is on disk"
    assert held.train_images.shape == (10000 - HELD_OUT, 1, 28, 28) and held.train_images.dtype == torch.uint8
    assert held.targets.shape == held.inputs.shape == held.masks.shape == (HELD_OUT, 1, IMAGE_SIZE, IMAGE_SIZE)
    assert held.trained_on == "8,000 digits of the MNIST test split (the other 2,000 are held out)"
    train, held_out = digit_bytes(held.train_images), digit_bytes(held.targets)
    assert not set(train) & set(held_out), "no held-out digit is trained on"
    assert sorted(train + held_out) == sorted(digit_bytes(mnist_test[0])), "together they are the test split"


def test_inpainting_data_labels_match_the_digits(held, mnist_test):
    label_of = dict(zip(digit_bytes(mnist_test[0]), mnist_test[1].tolist()))
    assert [label_of[b] for b in digit_bytes(held.targets)] == held.labels.tolist()
    assert held.labels.bincount(minlength=10).min() > 150, "every class is held out"


def test_inpainting_data_pairs_are_targets_with_their_holes(held):
    assert torch.equal(held.inputs, cut_holes(held.targets, held.masks))
    assert (held.masks.sum(dim=(1, 2, 3)) == HOLE * HOLE).all()


def test_inpainting_data_is_the_same_on_every_call(held, mnist_root, monkeypatch):
    again = load_offline(monkeypatch, mnist_root)
    for name in ("train_images", "inputs", "targets", "masks", "labels"):
        assert torch.equal(getattr(again, name), getattr(held, name)), name


def test_inpainting_data_trains_on_the_training_split_when_present(held, mnist_root, tmp_path, monkeypatch):
    images, _ = write_split(tmp_path, "train", 30)
    for name in SPLITS["test"]:
        (raw_folder(tmp_path) / f"{name}.gz").symlink_to(raw_folder(mnist_root) / f"{name}.gz")
    found = load_offline(monkeypatch, tmp_path)
    assert found.trained_on == "the MNIST training split (30 digits)"
    assert torch.equal(found.train_images[:, 0], torch.from_numpy(images))
    for name in ("inputs", "targets", "masks", "labels"):
        assert torch.equal(getattr(found, name), getattr(held, name)), f"held-out {name} do not depend on the split"


# --- psnr, grey_share ---------------------------------------------------------------------------------------

def test_psnr_of_identical_images_is_infinite():
    images = torch.rand(3, 1, 32, 32) * 2 - 1
    assert psnr(images, images.clone()) == math.inf


@pytest.mark.parametrize(("error", "expected"), [(0.2, 20.0), (2.0, 0.0), (0.02, 40.0)])
def test_psnr_of_a_known_error(error, expected):
    targets = torch.zeros(2, 1, 32, 32)
    signs = torch.where(torch.rand_like(targets) < 0.5, -1.0, 1.0)
    assert psnr(targets + error * signs, targets) == pytest.approx(expected, abs=1e-4)


def test_psnr_rejects_a_shape_mismatch():
    with pytest.raises(ValueError, match=r"outputs \(2, 1, 32, 32\) and targets \(2, 1, 28, 28\)"):
        psnr(torch.zeros(2, 1, 32, 32), torch.zeros(2, 1, 28, 28))


def test_grey_share_counts_only_masked_pixels_strictly_between_the_thresholds():
    images = torch.tensor([-1.0, -0.8, -0.79, 0.0, 0.79, 0.8, 1.0, 0.0]).view(1, 1, 1, 8)
    masks = torch.tensor([True] * 7 + [False]).view(1, 1, 1, 8)
    assert grey_share(images, masks) == pytest.approx(3 / 7)
    assert grey_share(images, ~masks) == 1.0


def test_grey_share_of_real_digits_under_the_holes(held):
    share = grey_share(held.targets, held.masks)
    print(f"grey share of real held-out digits under their holes: {share:.3f}")  # 0.205
    assert 0.1 < share < 0.3


# --- score --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def part(held):
    """The first 400 held-out pairs: enough for the scores, a fifth of the classifier time."""
    return held.head(400)


def test_head_keeps_the_first_pairs_and_every_training_digit(held, part):
    assert len(part.inputs) == len(part.targets) == len(part.masks) == len(part.labels) == 400
    assert torch.equal(part.targets, held.targets[:400]) and torch.equal(part.labels, held.labels[:400])
    assert part.train_images is held.train_images and part.trained_on == held.trained_on


@pytest.mark.parametrize("n", [0, 1, 2001, 2.5])
def test_head_rejects_a_size_it_cannot_give(held, n):
    with pytest.raises(ValueError, match=rf"n must be an int between 2 and 2000, got {n!r}"):
        held.head(n)


@pytest.fixture(scope="module")
def perfect(part):
    return score(part.targets, part)


def test_score_of_the_truth_is_perfect(perfect):
    scores = perfect
    assert scores.l1 == scores.hole_l1 == 0.0 and scores.psnr == math.inf
    assert 0.1 < scores.grey_share < 0.3
    assert scores.digit_accuracy > 0.9
    assert scores.fd < 1.0


def test_score_of_unfilled_holes(part, perfect):
    truth, scores = perfect, score(part.inputs, part)
    assert scores.l1 > 0 and scores.hole_l1 > scores.l1 and math.isfinite(scores.psnr)
    assert scores.grey_share == 1.0, "every hole pixel is left at the grey HOLE_VALUE"
    assert scores.digit_accuracy < truth.digit_accuracy - 0.3
    assert scores.fd > 10 * max(truth.fd, 1.0)


def test_score_rejects_completions_of_another_shape(part):
    with pytest.raises(ValueError, match=r"expected completions of shape \(400, 1, 32, 32\), got \(400, 1, 28, 28\)"):
        score(crop_digits(part.targets), part)
