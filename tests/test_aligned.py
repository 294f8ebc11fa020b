"""gancourse.aligned: A|B pair images, the official resize/crop/flip, bad files, checksummed downloads, the CLI.

Every dataset here is a small folder in the official format written by the tests. No test touches the network:
``urllib.request.urlopen`` is replaced by one that serves a local archive or fails as it would offline.
"""
from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from gancourse.aligned import (
    BASE_URL,
    DATASETS,
    AlignedPairs,
    Archive,
    BrokenArchive,
    BrokenPairImage,
    UnverifiedDownloadWarning,
    download,
    main,
    pix2pix_folder,
)

REPO = Path(__file__).resolve().parents[1]
HALF = 32  # each half of the test images is HALF x HALF


def coordinate_pair(half: int = HALF) -> Image.Image:
    """An A|B image whose halves store each pixel's (x, y) in red and green; blue is 0 in A and 255 in B."""
    y, x = np.mgrid[0:half, 0:half]
    a = np.stack([x * 4, y * 4, np.zeros_like(x)], axis=-1)
    b = np.stack([x * 4, y * 4, np.full_like(x, 255)], axis=-1)
    return Image.fromarray(np.concatenate([a, b], axis=1).astype(np.uint8))


def make_dataset(folder: Path, counts: dict[str, int] | None = None) -> Path:
    """Write ``folder/<split>/<i>.png`` coordinate pairs (default: 4 train, 2 test) and return ``folder``."""
    for split, count in (counts or {"train": 4, "test": 2}).items():
        (folder / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            coordinate_pair().save(folder / split / f"{i}.png")
    return folder


def pixels(tensor: torch.Tensor) -> np.ndarray:
    """Back from [-1, 1] floats to the uint8 values they came from."""
    return np.rint((tensor.numpy() + 1) * 127.5).astype(int)


def crop_and_flip(tensor: torch.Tensor) -> tuple[int, int, bool]:
    """Read the (x, y) crop offset and whether it was flipped from a transformed coordinate half."""
    red, green = pixels(tensor)[:2] // 4
    flipped = bool(red[0, 0] > red[0, -1])
    return int(red[0, -1] if flipped else red[0, 0]), int(green[0, 0]), flipped


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A four-pair training split (and a two-pair test split) in the official format."""
    return make_dataset(tmp_path / "toy")


def official(image: Image.Image, load: int, crop: int, x: int, y: int, flip: bool, gray: bool) -> torch.Tensor:
    """One half through the official get_transform (preprocess resize_and_crop) with the given parameters."""
    steps = [transforms.Grayscale(1)] if gray else []
    steps += [transforms.Resize([load, load], transforms.InterpolationMode.BICUBIC)]
    steps += [transforms.Lambda(lambda im: im.crop((x, y, x + crop, y + crop)))]
    steps += [transforms.Lambda(lambda im: im.transpose(Image.FLIP_LEFT_RIGHT) if flip else im)]
    steps += [transforms.ToTensor(), transforms.Normalize((0.5,) * (1 if gray else 3), (0.5,) * (1 if gray else 3))]
    return transforms.Compose(steps)(image)


# --- the transform --------------------------------------------------------------------------------------------


def test_shapes_and_range(toy):
    pairs = AlignedPairs(toy, load_size=40, crop_size=24, seed=0)
    assert len(pairs) == 4
    for a, b in pairs:
        assert a.shape == b.shape == (3, 24, 24)
        assert a.dtype == b.dtype == torch.float32
        assert a.min() >= -1 and a.max() <= 1 and b.min() >= -1 and b.max() <= 1


def test_a_and_b_share_one_crop_and_one_flip(toy):
    pairs = AlignedPairs(toy, load_size=HALF, crop_size=24, seed=1)  # load_size == half: resizing is the identity
    seen = set()
    for _ in range(40):
        a, b = pairs[0]
        assert crop_and_flip(a) == crop_and_flip(b)
        assert (pixels(a)[2] == 0).all() and (pixels(b)[2] == 255).all()  # A really is the left half
        assert np.array_equal(pixels(a)[:2], pixels(b)[:2])
        seen.add(crop_and_flip(a))
    offsets = {(x, y) for x, y, _ in seen}
    assert all(0 <= x <= HALF - 24 and 0 <= y <= HALF - 24 for x, y in offsets)
    assert len(offsets) > 5  # the crop position is random


def test_flips_about_half_the_time_in_training_never_at_test(toy):
    train = AlignedPairs(toy, load_size=HALF, crop_size=24, seed=2)
    flips = sum(crop_and_flip(train[i % 4][0])[2] for i in range(200))
    assert 60 < flips < 140
    test = AlignedPairs(toy, "test", load_size=HALF, crop_size=24, train=False, seed=2)
    assert not any(crop_and_flip(test[i % 2][0])[2] for i in range(50))


def test_test_transform_is_deterministic_and_matches_the_official_test_options(toy):
    pairs = AlignedPairs(toy, "test", load_size=286, crop_size=20, train=False)
    first = pairs[1]
    for _ in range(5):
        again = pairs[1]
        assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    # test_options.py sets load_size to crop_size: each half resized straight to crop_size, no crop, no flip
    left = coordinate_pair().crop((0, 0, HALF, HALF))
    expected = official(left, 20, 20, 0, 0, False, gray=False)
    assert torch.allclose(first[0], expected, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_training_transform_matches_the_official_pipeline(toy, channels):
    pairs = AlignedPairs(toy, load_size=40, crop_size=32, channels=channels, seed=3)
    left, right = coordinate_pair().crop((0, 0, HALF, HALF)), coordinate_pair().crop((HALF, 0, 2 * HALF, HALF))
    for _ in range(3):
        a, b = pairs[0]
        matches = [
            (x, y, flip)
            for x in range(9) for y in range(9) for flip in (False, True)
            if torch.allclose(a, official(left, 40, 32, x, y, flip, gray=channels == 1), atol=1e-5)
        ]
        assert len(matches) == 1, matches  # exactly one official (crop, flip) gives A...
        assert torch.allclose(b, official(right, 40, 32, *matches[0], gray=channels == 1), atol=1e-5)  # ...and B


def test_seed_reproduces_crops_and_flips(toy):
    def draws(seed):
        pairs = AlignedPairs(toy, load_size=40, crop_size=24, seed=seed)
        return torch.stack([pairs[i % 4][0] for i in range(12)])

    assert torch.equal(draws(7), draws(7))
    assert not torch.equal(draws(7), draws(8))


def test_without_a_seed_the_global_generator_decides(toy):
    pairs = AlignedPairs(toy, load_size=40, crop_size=24)
    torch.manual_seed(5)
    first = pairs[0][0]
    torch.manual_seed(5)
    assert torch.equal(pairs[0][0], first)


def test_direction_btoa_swaps_the_halves(toy):
    a, b = AlignedPairs(toy, load_size=40, crop_size=24, seed=4)[2]
    source, target = AlignedPairs(toy, load_size=40, crop_size=24, seed=4, direction="BtoA")[2]
    assert torch.equal(source, b) and torch.equal(target, a)
    assert (pixels(source)[2] == 255).all() and (pixels(target)[2] == 0).all()  # the input is now the B half


def test_one_channel_is_the_official_grayscale(toy):
    a, b = AlignedPairs(toy, "test", crop_size=HALF, train=False, channels=1)[0]
    assert a.shape == b.shape == (1, HALF, HALF)
    expected = np.asarray(coordinate_pair().convert("L").crop((0, 0, HALF, HALF)))
    assert np.array_equal(pixels(a)[0], expected)


def test_grayscale_files_become_three_channels(tmp_path):
    (tmp_path / "gray" / "train").mkdir(parents=True)
    coordinate_pair().convert("L").save(tmp_path / "gray" / "train" / "0.png")
    a, b = AlignedPairs(tmp_path / "gray", load_size=HALF, crop_size=HALF)[0]
    assert a.shape == (3, HALF, HALF) and torch.equal(a[0], a[1]) and torch.equal(a[1], a[2])


@pytest.mark.parametrize(("load", "crop"), [(286, 256), (64, 64), (48, 16)])
def test_load_and_crop_sizes_are_parameters(toy, load, crop):
    a, b = AlignedPairs(toy, load_size=load, crop_size=crop, seed=0)[3]
    assert a.shape == b.shape == (3, crop, crop)


def test_named_dataset_is_read_from_the_root(tmp_path):
    make_dataset(pix2pix_folder(tmp_path) / "facades", {"val": 3})
    assert len(AlignedPairs("facades", "val", root=tmp_path)) == 3


def test_image_files_are_found_as_the_official_make_dataset_does(toy):
    (toy / "train" / "notes.txt").write_text("not a pair")
    (toy / "train" / "more").mkdir()
    coordinate_pair().save(toy / "train" / "more" / "5.JPG")
    pairs = AlignedPairs(toy, load_size=40, crop_size=24)
    assert [p.name for p in pairs.paths] == ["0.png", "1.png", "2.png", "3.png", "5.JPG"]


# --- what goes wrong ------------------------------------------------------------------------------------------


def test_missing_named_dataset_says_what_to_download_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        AlignedPairs("maps", root=tmp_path)
    message = str(caught.value)
    assert "python -m gancourse.aligned download maps" in message
    assert str(tmp_path / "pix2pix" / "maps") in message


def test_missing_split_lists_the_splits_that_exist(toy):
    with pytest.raises(FileNotFoundError, match=r"val not found \(splits there: \['test', 'train'\]\)"):
        AlignedPairs(toy, "val")


def test_unknown_folder_names_the_official_datasets(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="official datasets: facades, maps"):
        AlignedPairs(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    make_dataset(pix2pix_folder(tmp_path) / "maps")
    with pytest.raises(FileNotFoundError, match="official datasets"):  # a Path is a folder, even if named maps
        AlignedPairs(Path("maps"), root=tmp_path)


def test_empty_split_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "train" / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=r"train holds no images \(.*\.jpg"):
        AlignedPairs(tmp_path / "empty")


def bad_file(folder: Path, name: str, content: Image.Image | bytes) -> Path:
    """Write one bad file beside a good pair and return its path."""
    make_dataset(folder, {"train": 1})
    path = folder / "train" / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content.save(path)
    return path


def rgba(alpha: int) -> Image.Image:
    """A coordinate pair with a uniform alpha channel."""
    image = coordinate_pair().convert("RGBA")
    image.putalpha(alpha)
    return image


def transparent_palette() -> Image.Image:
    """A palette image with a transparent colour."""
    image = coordinate_pair().convert("P")
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("text.jpg", b"<html>404 Not Found</html>", "PIL cannot read it as an image"),
        ("cut.png", b"\x89PNG\r\n\x1a\n\x00\x00", "PIL cannot read it as an image"),
        ("odd.png", Image.new("RGB", (63, 32)), "its width 63 is odd"),
        ("alpha.png", rgba(128), "transparent pixels \\(mode RGBA\\)"),
        ("palette.png", transparent_palette(), "transparent pixels \\(mode P\\)"),
        ("deep.png", Image.new("I;16", (64, 32)), "mode I;16"),
        ("float.tif", Image.new("F", (64, 32)), "mode F"),
        ("print.jpg", Image.new("CMYK", (64, 32)), "mode CMYK"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, problem):
    path = bad_file(tmp_path / "bad", name, content)
    pairs = AlignedPairs(tmp_path / "bad", load_size=40, crop_size=24)
    index = pairs.paths.index(path)
    pairs[1 - index]  # the good pair beside it still loads
    with pytest.raises(BrokenPairImage, match=problem) as caught:
        pairs[index]
    assert caught.value.path == path and str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("content", [rgba(255), coordinate_pair().convert("P"), coordinate_pair().convert("1")])
def test_modes_that_convert_faithfully_are_accepted(tmp_path, content):
    path = bad_file(tmp_path / "ok", "fine.png", content)
    pairs = AlignedPairs(tmp_path / "ok", load_size=40, crop_size=24)
    a, b = pairs[pairs.paths.index(path)]
    assert a.shape == b.shape == (3, 24, 24)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"load_size": 64, "crop_size": 65}, "crop_size <= load_size"),
        ({"load_size": 0, "crop_size": 0}, "0 < crop_size"),
        ({"crop_size": -1}, "0 < crop_size"),
        ({"load_size": 64.0, "crop_size": 32}, "integers"),
        ({"load_size": True, "crop_size": 1}, "integers"),
        ({"direction": "AB"}, "direction must be 'AtoB' or 'BtoA'"),
        ({"channels": 2}, "channels must be 1"),
    ],
)
def test_bad_arguments_are_value_errors(toy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        AlignedPairs(toy, **kwargs)


# --- downloading ----------------------------------------------------------------------------------------------


def build_archive(path: Path, name: str = "facades", extra: tarfile.TarInfo | None = None) -> Path:
    """Write ``path``: a tar.gz holding ``<name>/{train,val}/`` coordinate pairs (and one extra member)."""
    source = make_dataset(path.parent / "source" / name, {"train": 3, "val": 1})
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=name)
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"evil") if extra.isfile() else None)
    return path


def md5(path: Path) -> str:
    """The MD5 of a file."""
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Serve a local facades archive in place of the real one; return (archive, list of URLs requested)."""
    archive = build_archive(tmp_path / "server" / "facades.tar.gz")
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return archive.open("rb")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setitem(DATASETS, "facades", Archive(f"{BASE_URL}/facades.tar.gz", md5(archive)))
    return archive, requested


def test_registry_lists_the_official_datasets():
    assert set(DATASETS) == {"facades", "maps", "edges2shoes", "edges2handbags", "night2day", "cityscapes"}
    for name, spec in DATASETS.items():
        assert spec.url in (None, f"http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz")
        assert spec.md5 is None or (len(spec.md5) == 32 and int(spec.md5, 16) >= 0)


def test_download_verifies_and_extracts_to_the_root(tmp_path, served):
    root = tmp_path / "root"
    folder = download("facades", root)
    assert folder == root / "pix2pix" / "facades"
    assert served[1] == [f"{BASE_URL}/facades.tar.gz"]
    assert sorted(p.name for p in folder.iterdir()) == ["train", "val"]
    assert len(AlignedPairs("facades", root=root, load_size=40, crop_size=24)) == 3
    assert sorted(p.name for p in (root / "pix2pix").iterdir()) == ["facades"]  # archive and staging removed
    assert download("facades", root) == folder and len(served[1]) == 1  # already there: not fetched again


def test_download_uses_the_data_root_by_default(tmp_path, served, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "env"))
    assert download("facades") == tmp_path / "env" / "pix2pix" / "facades"


def test_checksum_mismatch_raises_and_deletes_the_archive(tmp_path, served, monkeypatch):
    monkeypatch.setitem(DATASETS, "facades", Archive(f"{BASE_URL}/facades.tar.gz", "0" * 32))
    with pytest.raises(BrokenArchive, match=f"its MD5 is {md5(served[0])}, not the published 0{{32}}") as caught:
        download("facades", tmp_path)
    assert caught.value.path == tmp_path / "pix2pix" / "facades.tar.gz"
    assert "deleted" in str(caught.value)
    assert list((tmp_path / "pix2pix").iterdir()) == []  # nothing kept, nothing extracted


def test_archive_without_checksum_is_extracted_with_a_warning_giving_its_sha256(tmp_path, served, monkeypatch):
    monkeypatch.setitem(DATASETS, "facades", Archive(f"{BASE_URL}/facades.tar.gz", None))
    sha256 = hashlib.sha256(served[0].read_bytes()).hexdigest()
    with pytest.warns(UnverifiedDownloadWarning, match=f"could not be verified; its SHA-256 is {sha256}"):
        folder = download("facades", tmp_path)
    assert (folder / "train" / "0.png").is_file()


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
def test_unsafe_archive_members_are_refused(tmp_path, served, monkeypatch, kind):
    member = tarfile.TarInfo({"parent": "../../evil.txt", "absolute": "/tmp/evil.txt", "symlink": "facades/x"}[kind])
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        member.size = 4
    archive = build_archive(tmp_path / "unsafe" / "facades.tar.gz", extra=member)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: archive.open("rb"))
    monkeypatch.setitem(DATASETS, "facades", Archive(f"{BASE_URL}/facades.tar.gz", md5(archive)))
    with pytest.raises(BrokenArchive, match=f"member '{member.name}' is a link, device or path outside"):
        download("facades", tmp_path / "root")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "root" / "evil.txt").exists()
    assert list((tmp_path / "root" / "pix2pix").iterdir()) == []


def test_corrupt_archive_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"<html>oops</html>"))
    monkeypatch.setitem(DATASETS, "facades", Archive(f"{BASE_URL}/facades.tar.gz", None))
    with pytest.warns(UnverifiedDownloadWarning), pytest.raises(BrokenArchive, match="not a readable tar.gz"):
        download("facades", tmp_path)
    assert list((tmp_path / "pix2pix").iterdir()) == []


def test_offline_error_says_what_to_download_where_and_how(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError) as caught:
        download("maps", tmp_path)
    message = str(caught.value)
    for part in ("'maps'", f"{BASE_URL}/maps.tar.gz", str(tmp_path / "pix2pix" / "maps.tar.gz"),
                 "python -m gancourse.aligned download maps", "name resolution"):
        assert part in message
    assert isinstance(caught.value, OSError)
    assert list((tmp_path / "pix2pix").iterdir()) == []  # no partial file left behind


def test_archive_copied_by_hand_is_verified_and_extracted_offline(tmp_path, served, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: pytest.fail("must not download"))
    (tmp_path / "pix2pix").mkdir()
    (tmp_path / "pix2pix" / "facades.tar.gz").write_bytes(served[0].read_bytes())
    assert (download("facades", tmp_path) / "val" / "0.png").is_file()


def test_cityscapes_and_unknown_names_are_not_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="license.*cityscapes-dataset.com"):
        download("cityscapes", tmp_path)
    with pytest.raises(ValueError, match="unknown pix2pix dataset 'shoes'; the official ones are facades"):
        download("shoes", tmp_path)


# --- command line ---------------------------------------------------------------------------------------------


def test_cli_info_lists_datasets_and_pairs_per_split(tmp_path, capsys):
    make_dataset(pix2pix_folder(tmp_path) / "facades", {"train": 4, "test": 2})
    make_dataset(pix2pix_folder(tmp_path) / "mine", {"val": 1})
    assert main(["info", "--root", str(tmp_path)]) == 0
    lines = {line.split(":")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == set(DATASETS) | {"mine"}
    assert "train 4, test 2 pairs" in lines["facades"]
    assert "val 1 pairs" in lines["mine"]
    assert "missing (python -m gancourse.aligned download maps)" in lines["maps"]


def test_cli_download(tmp_path, served, capsys):
    assert main(["download", "facades", "--root", str(tmp_path)]) == 0
    assert str(tmp_path / "pix2pix" / "facades") in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main(["download"])
    assert caught.value.code == 2
    assert "download needs a dataset name" in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gancourse.aligned", "info", "--root", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    assert re.search(r"^facades +: missing \(python -m gancourse.aligned download facades\)$", result.stdout, re.M)
