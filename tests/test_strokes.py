"""gancourse.strokes: the thicker pen, the two unpaired stroke domains, their minibatches and the translation scores.

No test downloads: ``download_mnist`` is replaced by one that fails as it would offline. Where a test must know
which digit ended up where, ``load_mnist`` is replaced by one whose images store their own index in their pixels
(in regions a 3x3 dilation leaves readable). The scores are computed on the first 200 held-out digits, to keep
the classifier passes short.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from gancourse import data, strokes
from gancourse.data import DATA_ENV, SPLITS, MNISTFallbackWarning, has_split, raw_folder, to_model_range
from gancourse.strokes import (
    HELD_OUT,
    StrokeDomains,
    TranslationScorer,
    TranslationScores,
    UnpairedBatches,
    stroke_domains,
    thicken,
)
from test_data import write_split

SHAPE_ERROR = "expected float images of shape (N, C, H, W) in [-1, 1], got "
OFFLINE_SOURCE = "8,000 digits of the MNIST test split (the other 2,000 are held out), split into two disjoint halves"


def offline(root=None):
    raise OSError("no network")


def load_domains(monkeypatch, root) -> StrokeDomains:
    """stroke_domains() with GANCOURSE_DATA at `root` and downloads failing."""
    monkeypatch.setenv(DATA_ENV, str(root))
    monkeypatch.setattr(data, "download_mnist", offline)
    monkeypatch.setattr(data, "_warned_fallback", set())
    return stroke_domains()


@pytest.fixture(scope="module")
def domains(mnist_root):
    with pytest.MonkeyPatch.context() as monkeypatch:
        with pytest.warns(MNISTFallbackWarning, match="using the 10,000-image test split instead"):
            return load_domains(monkeypatch, mnist_root)


def digit_bytes(images: torch.Tensor) -> list[bytes]:
    """Pixel bytes of each digit, uint8 or in [-1, 1]."""
    if images.dtype != torch.uint8:
        images = images.add(1).mul(127.5).round().to(torch.uint8)
    return [image.numpy().tobytes() for image in images]


# --- index-coded digits: which source digit is each image? --------------------------------------------------

def coded_digits(indices: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) images: rows 0-13 hold ``index // 256``, rows 14-27 hold ``index % 256``.

    A 3x3 dilation only mixes the two halves along rows 13 and 14, so rows 0 and 27 stay readable.
    """
    images = torch.empty(len(indices), 1, 28, 28, dtype=torch.uint8)
    images[:, :, :14] = (indices // 256).to(torch.uint8).view(-1, 1, 1, 1)
    images[:, :, 14:] = (indices % 256).to(torch.uint8).view(-1, 1, 1, 1)
    return images


def decode(images: torch.Tensor) -> list[int]:
    """The indices stored by `coded_digits`, read back from images in [-1, 1] (thickened or not)."""
    pixels = images.add(1).mul(127.5).round().long()
    return (pixels[:, 0, 0, 0] * 256 + pixels[:, 0, 27, 27]).tolist()


TEST_COUNT, TRAIN_OFFSET = 10000, 10000


def coded_domains(monkeypatch, train: int | None) -> StrokeDomains:
    """stroke_domains() over coded digits: test digit i stores i (label i % 10), training digit i stores 10000 + i.

    With ``train=None`` no training split is on disk and ``load_mnist("train")`` falls back to the test split.
    """
    test = torch.arange(TEST_COUNT)
    train_indices = TRAIN_OFFSET + torch.arange(train or 0)

    def fake_load(split="train", root=None, download=True):
        indices = train_indices if split == "train" and train is not None else test
        return coded_digits(indices), indices % 10

    monkeypatch.setattr(strokes, "load_mnist", fake_load)
    monkeypatch.setattr(strokes, "has_split", lambda split, root=None: split == "test" or train is not None)
    return stroke_domains()


# --- thicken ------------------------------------------------------------------------------------------------

def paper(*shape: int) -> torch.Tensor:
    return torch.full(shape, -1.0)


def test_thicken_grows_a_single_ink_pixel_into_a_3x3_block():
    images = paper(1, 1, 28, 28)
    images[0, 0, 10, 17] = 1.0
    expected = paper(1, 1, 28, 28)
    expected[0, 0, 9:12, 16:19] = 1.0
    assert torch.equal(thicken(images), expected)


def test_thicken_keeps_grey_values_and_stops_at_the_border():
    images = paper(1, 1, 28, 28)
    images[0, 0, 0, 0], images[0, 0, 27, 14] = 0.3, -0.2
    expected = paper(1, 1, 28, 28)
    expected[0, 0, 0:2, 0:2] = 0.3  # a corner pixel grows into the 2x2 block inside the image, no wrap-around
    expected[0, 0, 26:28, 13:16] = -0.2
    assert torch.equal(thicken(images), expected)


def neighbourhood_max(images: torch.Tensor) -> torch.Tensor:
    """The largest value in each pixel's 3x3 neighbourhood (inside the image), by brute force."""
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1), value=-torch.inf)
    h, w = images.shape[-2:]
    shifts = [padded[..., dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]
    return torch.stack(shifts).amax(dim=0)


def test_thicken_is_the_max_of_each_3x3_neighbourhood(mnist_test):
    digits = to_model_range(mnist_test[0][:50])
    thick = thicken(digits)
    assert torch.equal(thick, neighbourhood_max(digits))
    assert (thick >= digits).all(), "thickening only adds ink"
    assert thick.ge(0).sum() > 1.5 * digits.ge(0).sum(), "the strokes are clearly thicker"


def test_thicken_leaves_paper_as_paper_and_far_paper_untouched(mnist_test):
    assert torch.equal(thicken(paper(2, 1, 28, 28)), paper(2, 1, 28, 28))
    digits = to_model_range(mnist_test[0][:20])
    near_ink = neighbourhood_max(digits) > -1.0
    assert (thicken(digits)[~near_ink] == -1.0).all(), "paper more than one pixel from any ink stays paper"


def test_thicken_is_not_idempotent():
    images = paper(1, 1, 28, 28)
    images[0, 0, 14, 14] = 1.0
    twice = thicken(thicken(images))
    assert not torch.equal(twice, thicken(images))
    assert twice.eq(1.0).sum() == 25, "thickening twice grows the pixel into a 5x5 block"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_thicken_keeps_shape_and_dtype_and_works_per_channel(dtype):
    images = (torch.rand(4, 3, 17, 23, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(dtype)
    before = images.clone()
    thick = thicken(images)
    assert thick.shape == images.shape and thick.dtype == dtype
    assert torch.equal(thick, neighbourhood_max(images))
    assert torch.equal(images, before), "the input is not modified in place"
    for c in range(3):  # channels do not mix
        assert torch.equal(thick[:, c:c + 1], thicken(images[:, c:c + 1]))


@pytest.mark.parametrize(("images", "described"), [
    (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "torch.uint8 (2, 1, 28, 28)"),
    (torch.zeros(1, 1, 28, 28, dtype=torch.int64), "torch.int64 (1, 1, 28, 28)"),
    (torch.zeros(1, 28, 28), "torch.float32 (1, 28, 28)"),
    (torch.zeros(2, 1, 1, 28, 28), "torch.float32 (2, 1, 1, 28, 28)"),
    (np.zeros((1, 1, 28, 28), dtype=np.float32), "ndarray"),
    ([[[[0.0]]]], "list"),
])
def test_thicken_rejects_what_is_not_a_float_image_batch_naming_it(images, described):
    with pytest.raises(ValueError, match=re.escape(SHAPE_ERROR + described)):
        thicken(images)


# --- stroke_domains on the real test split ------------------------------------------------------------------

def test_stroke_domains_offline_shapes_ranges_and_source(domains, mnist_root):
    assert not has_split("train", mnist_root), "this test is about the fallback: only the test split is on disk"
    half = (10000 - HELD_OUT) // 2
    assert domains.train_a.shape == domains.train_b.shape == (half, 1, 28, 28)
    assert domains.thin.shape == domains.thick.shape == (HELD_OUT, 1, 28, 28) and HELD_OUT == 2000
    assert domains.labels.shape == (HELD_OUT,) and domains.labels.dtype == torch.int64
    for name in ("train_a", "train_b", "thin", "thick"):
        images = getattr(domains, name)
        assert images.dtype == torch.float32, name
        assert images.min() == -1.0 and images.max() == 1.0, f"{name} spans [-1, 1]"
    assert domains.trained_on == OFFLINE_SOURCE


def test_stroke_domains_held_out_thick_is_the_thickened_thin(domains):
    assert torch.equal(domains.thick, thicken(domains.thin))
    assert domains.train_b.ge(0).float().mean() > 1.5 * domains.train_a.ge(0).float().mean(), "domain B is thick"


def test_stroke_domains_labels_match_the_held_out_digits(domains, mnist_test):
    label_of = dict(zip(digit_bytes(mnist_test[0]), mnist_test[1].tolist()))
    assert [label_of[b] for b in digit_bytes(domains.thin)] == domains.labels.tolist()
    assert domains.labels.bincount(minlength=10).min() > 150, "every class is held out"


def test_stroke_domains_offline_never_train_on_a_held_out_digit(domains, mnist_test):
    thin, train_a = digit_bytes(domains.thin), digit_bytes(domains.train_a)
    assert not set(thin) & set(train_a)
    assert not set(digit_bytes(domains.thick)) & set(digit_bytes(domains.train_b))
    assert set(thin + train_a) <= set(digit_bytes(mnist_test[0]))


def test_stroke_domains_are_the_same_on_every_call(domains, mnist_root, monkeypatch):
    with pytest.warns(MNISTFallbackWarning):
        again = load_domains(monkeypatch, mnist_root)
    assert again.trained_on == domains.trained_on
    for name in ("train_a", "train_b", "thin", "thick", "labels"):
        assert torch.equal(getattr(again, name), getattr(domains, name)), name


def test_stroke_domains_train_on_the_training_split_when_present(domains, mnist_root, tmp_path, monkeypatch):
    images, _ = write_split(tmp_path, "train", 30)
    for name in SPLITS["test"]:
        (raw_folder(tmp_path) / f"{name}.gz").symlink_to(raw_folder(mnist_root) / f"{name}.gz")
    found = load_domains(monkeypatch, tmp_path)
    assert found.trained_on == "the MNIST training split (30 digits), split into two disjoint halves"
    written = to_model_range(torch.from_numpy(images).unsqueeze(1))
    sources_a = [next(i for i in range(30) if torch.equal(written[i], a)) for a in found.train_a]
    sources_b = [next(i for i in range(30) if torch.equal(thicken(written[i:i + 1])[0], b)) for b in found.train_b]
    assert len(sources_a) == len(sources_b) == 15
    assert sorted(sources_a + sources_b) == list(range(30)), "two disjoint halves of the training split"
    for name in ("thin", "thick", "labels"):
        assert torch.equal(getattr(found, name), getattr(domains, name)), f"held-out {name} do not depend on the split"


# --- stroke_domains on index-coded digits -------------------------------------------------------------------

def test_coded_digits_survive_thickening():
    indices = torch.tensor([0, 1, 255, 256, 9999, 10000, 65535])
    images = to_model_range(coded_digits(indices))
    assert decode(images) == decode(thicken(images)) == indices.tolist()


def test_stroke_domains_offline_split_the_other_test_digits_into_disjoint_halves(monkeypatch):
    found = coded_domains(monkeypatch, train=None)
    held, a, b = decode(found.thin), decode(found.train_a), decode(found.train_b)
    assert decode(found.thick) == held
    assert found.labels.tolist() == [i % 10 for i in held]
    assert len(set(held)) == HELD_OUT and len(set(a)) == len(set(b)) == 4000
    assert not set(a) & set(b), "no digit is in both training domains"
    assert not set(held) & (set(a) | set(b)), "no held-out digit is trained on"
    assert sorted(held + a + b) == list(range(TEST_COUNT)), "together they are the test split"
    assert found.trained_on == OFFLINE_SOURCE


def test_stroke_domains_with_a_training_split_hold_out_the_same_digits(monkeypatch):
    offline_found = coded_domains(monkeypatch, train=None)
    found = coded_domains(monkeypatch, train=601)
    assert decode(found.thin) == decode(offline_found.thin)
    assert torch.equal(found.thin, offline_found.thin) and torch.equal(found.thick, offline_found.thick)
    assert torch.equal(found.labels, offline_found.labels)
    a, b = decode(found.train_a), decode(found.train_b)
    assert len(a) + len(b) == 601 and abs(len(a) - len(b)) <= 1
    assert not set(a) & set(b), "no digit is in both training domains"
    assert sorted(a + b) == list(range(TRAIN_OFFSET, TRAIN_OFFSET + 601)), "every training digit is used once"
    assert found.trained_on == "the MNIST training split (601 digits), split into two disjoint halves"


def test_stroke_domains_train_b_is_the_thickened_source_digits(monkeypatch):
    found = coded_domains(monkeypatch, train=None)
    assert torch.equal(found.train_b, thicken(to_model_range(coded_digits(torch.tensor(decode(found.train_b))))))
    assert torch.equal(found.train_a, to_model_range(coded_digits(torch.tensor(decode(found.train_a)))))


# --- head ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def part(domains):
    """The first 200 held-out digits: enough for the scores, a tenth of the classifier time."""
    return domains.head(200)


def test_head_keeps_the_first_held_out_digits_and_every_training_digit(domains, part):
    assert len(part.thin) == len(part.thick) == len(part.labels) == 200
    for name in ("thin", "thick", "labels"):
        assert torch.equal(getattr(part, name), getattr(domains, name)[:200]), name
    assert part.train_a is domains.train_a and part.train_b is domains.train_b
    assert part.trained_on == domains.trained_on
    assert len(domains.head(2).labels) == 2 and len(domains.head(HELD_OUT).labels) == HELD_OUT


@pytest.mark.parametrize("n", [0, 1, 2001, 2.5, True, "200"])
def test_head_rejects_a_size_it_cannot_give(domains, n):
    with pytest.raises(ValueError, match=re.escape(f"n must be an int between 2 and 2000, got {n!r}")):
        domains.head(n)


# --- UnpairedBatches ----------------------------------------------------------------------------------------

def indexed(n: int) -> torch.Tensor:
    """Float images (n, 1, 28, 28) whose every pixel is the image's index."""
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 28, 28).contiguous()


def ids(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].long().tolist()


def test_unpaired_batches_yield_a_batch_of_each_domain():
    batches = UnpairedBatches(indexed(40), indexed(100) + 1000, 8)
    a, b = next(batches)
    assert a.shape == b.shape == (8, 1, 28, 28) and a.dtype == b.dtype == torch.float32
    assert all(0 <= i < 40 for i in ids(a)) and all(1000 <= i < 1100 for i in ids(b))


def test_unpaired_batches_convert_uint8_digits_to_the_model_range(mnist_test):
    a, b = next(UnpairedBatches(mnist_test[0][:50], mnist_test[0][50:100], 10))
    assert set(digit_bytes(a)) <= set(digit_bytes(mnist_test[0][:50]))
    assert set(digit_bytes(b)) <= set(digit_bytes(mnist_test[0][50:100]))
    assert a.min() >= -1 and a.max() <= 1


def test_unpaired_batches_shuffle_each_domain_on_its_own():
    batches = UnpairedBatches(indexed(64), indexed(64), 16, seed=0)
    epoch_a, epoch_b = [], []
    for _ in range(4):  # one epoch of each
        a, b = next(batches)
        epoch_a += ids(a)
        epoch_b += ids(b)
    assert sorted(epoch_a) == sorted(epoch_b) == list(range(64)), "each epoch shows every image once"
    assert epoch_a != epoch_b, "the same images are served in a different order in each domain"
    assert sum(x == y for x, y in zip(epoch_a, epoch_b)) < 16, "a and b are not paired"


@pytest.mark.parametrize(("n_a", "n_b", "batch_size", "expected"), [(40, 100, 8, 12), (100, 40, 8, 12), (9, 9, 3, 3)])
def test_unpaired_batches_len_is_an_epoch_of_the_larger_domain(n_a, n_b, batch_size, expected):
    assert len(UnpairedBatches(indexed(n_a), indexed(n_b), batch_size)) == expected


def test_unpaired_batches_never_end():
    batches = UnpairedBatches(indexed(5), indexed(7), 5)
    for _ in range(20):
        a, b = next(batches)
        assert sorted(ids(a)) == list(range(5)) and len(set(ids(b))) == 5


def test_unpaired_batches_with_the_same_seed_repeat():
    first, second, other = (UnpairedBatches(indexed(50), indexed(70), 10, seed=s) for s in (3, 3, 4))
    for _ in range(12):
        (a1, b1), (a2, b2), (a3, b3) = next(first), next(second), next(other)
        assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert not torch.equal(a1, a3) and not torch.equal(b1, b3), "another seed gives other batches"


DEVICES = ["cpu", torch.device("cpu")] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES, ids=str)
def test_unpaired_batches_live_on_the_requested_device(device):
    a, b = next(UnpairedBatches(indexed(8), indexed(8), 4, device=device))
    assert a.device.type == b.device.type == torch.device(device).type


def test_unpaired_batches_reject_a_batch_larger_than_a_domain():
    with pytest.raises(ValueError, match=r"batch_size must be between 1 and 5, got 6"):
        UnpairedBatches(indexed(10), indexed(5), 6)


# --- TranslationScorer --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def thin_scorer(part):
    return TranslationScorer(part.thin, part.labels)


@pytest.fixture(scope="module")
def thin_truth(thin_scorer, part):
    return thin_scorer(part.thin)


def test_scorer_of_the_thin_truth_is_perfect(thin_truth):
    assert isinstance(thin_truth, TranslationScores)
    print(f"thin truth: {thin_truth}")
    assert thin_truth.l1 == 0.0
    assert thin_truth.same_digit > 0.9
    assert thin_truth.fd == pytest.approx(0.0, abs=1e-3)


def test_scorer_of_the_thick_truth_is_good_if_a_little_lower(part, thin_truth):
    truth = TranslationScorer(part.thick, part.labels)(part.thick)
    print(f"thick truth: {truth}")
    assert truth.l1 == 0.0
    assert 0.85 < truth.same_digit <= thin_truth.same_digit
    assert truth.fd == pytest.approx(0.0, abs=1e-3)


def test_scorer_of_the_wrong_digits_loses_same_digit(thin_scorer, part, thin_truth):
    wrong = thin_scorer(part.thin.roll(1, dims=0))  # each output is its neighbour's digit, labels unchanged
    print(f"rolled by one: {wrong}")
    assert wrong.l1 > 0.1
    assert wrong.same_digit < thin_truth.same_digit - 0.6
    assert wrong.fd == pytest.approx(thin_truth.fd, abs=1e-3), "the same images in another order look as real"


def test_scorer_counts_only_outputs_that_pass_the_digit_check(thin_scorer, part, thin_truth):
    blank = thin_scorer(paper(200, 1, 28, 28))  # the classifier's top class for blank paper is some digit ...
    print(f"blank paper: {blank}")
    assert (part.labels == 1).sum() > 10, "... (a 1, as it happens), the label of some held-out digits"
    assert blank.same_digit == 0.0, "but blank paper is not a digit, so it never keeps the digit"
    assert blank.fd > 10 * max(thin_truth.fd, 1.0)
    assert blank.l1 == pytest.approx((part.thin + 1).mean().item(), abs=1e-6)


@pytest.mark.parametrize("shift", [0.25, -0.5])
def test_scorer_l1_of_a_constant_shift(thin_scorer, part, shift):
    outputs = (part.thin + shift).requires_grad_()  # a generator's output: scored without autograd
    assert thin_scorer(outputs).l1 == pytest.approx(abs(shift), abs=1e-6)


@pytest.mark.parametrize(("outputs", "described"), [
    (torch.zeros(200, 1, 28, 27), "(200, 1, 28, 27)"),
    (torch.zeros(199, 1, 28, 28), "(199, 1, 28, 28)"),
    (torch.zeros(200, 28, 28), "(200, 28, 28)"),
    (np.zeros((200, 1, 28, 28), dtype=np.float32), "ndarray"),
])
def test_scorer_rejects_outputs_of_another_shape(thin_scorer, outputs, described):
    expected = f"expected translations of shape (200, 1, 28, 28), got {described}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        thin_scorer(outputs)


def test_scorer_rejects_mismatched_labels(part):
    with pytest.raises(ValueError, match=r"^200 images but 199 labels$"):
        TranslationScorer(part.thin, part.labels[:-1])
