"""gancourse.unaligned: the unaligned sampling, own crop/flip per domain, bad files, checksummed zip downloads, CLI.

Every dataset here is a small folder in the official layout written by the tests; each image stores its pixel
coordinates in red and green and a tag naming its file in blue, so a test can tell which file came back and how
it was cropped and flipped. No test touches the network: ``urllib.request.urlopen`` is replaced by one that
serves a local zip or fails as it would offline.
"""
from __future__ import annotations

import hashlib
import io
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from gancourse.unaligned import (
    BASE_URL,
    DATASETS,
    Archive,
    BrokenArchive,
    BrokenImage,
    UnalignedPairs,
    UnverifiedDownloadWarning,
    cyclegan_folder,
    download,
    main,
)

REPO = Path(__file__).resolve().parents[1]
SIDE = 32  # the test images are SIDE x SIDE, unless a test says otherwise


def coordinate_image(tag: int, side: int = SIDE) -> Image.Image:
    """An image whose red and green store each pixel's (x, y) and whose blue is ``tag`` everywhere."""
    y, x = np.mgrid[0:side, 0:side]
    return Image.fromarray(np.stack([x * 4, y * 4, np.full_like(x, tag)], axis=-1).astype(np.uint8))


def tag(domain: str, i: int) -> int:
    """The blue value of file ``i`` of domain A (10, 20, ...) or B (110, 120, ...)."""
    return 10 * (i + 1) + (100 if domain == "B" else 0)


def make_dataset(folder: Path, counts: dict[str, int] | None = None) -> Path:
    """Write ``folder/<split><A|B>/<i>.png`` (default: 3 trainA, 5 trainB, 2 testA, 2 testB) and return it."""
    for name, count in (counts or {"trainA": 3, "trainB": 5, "testA": 2, "testB": 2}).items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            coordinate_image(tag(name[-1], i)).save(folder / name / f"{i}.png")
    return folder


def pixels(tensor: torch.Tensor) -> np.ndarray:
    """Back from [-1, 1] floats to the uint8 values they came from."""
    return np.rint((tensor.numpy() + 1) * 127.5).astype(int)


def which(tensor: torch.Tensor) -> int:
    """The tag (blue value) of the file a transformed image came from."""
    return int(np.rint(pixels(tensor)[2].mean()))


def crop_and_flip(tensor: torch.Tensor) -> tuple[int, int, bool]:
    """Read the (x, y) crop offset and whether it was flipped from a transformed coordinate image."""
    red, green = pixels(tensor)[:2] // 4
    flipped = bool(red[0, 0] > red[0, -1])
    return int(red[0, -1] if flipped else red[0, 0]), int(green[0, 0]), flipped


def official(image: Image.Image, load: int, crop: int, x: int, y: int, flip: bool, gray: bool) -> torch.Tensor:
    """One image through the official get_transform (preprocess resize_and_crop) with the given parameters."""
    steps = [transforms.Grayscale(1)] if gray else []
    steps += [transforms.Resize([load, load], transforms.InterpolationMode.BICUBIC)]
    steps += [transforms.Lambda(lambda im: im.crop((x, y, x + crop, y + crop)))]
    steps += [transforms.Lambda(lambda im: im.transpose(Image.FLIP_LEFT_RIGHT) if flip else im)]
    steps += [transforms.ToTensor(), transforms.Normalize((0.5,) * (1 if gray else 3), (0.5,) * (1 if gray else 3))]
    return transforms.Compose(steps)(image)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """3 trainA, 5 trainB, 2 testA and 2 testB images in the official layout."""
    return make_dataset(tmp_path / "toy")


# --- sampling -------------------------------------------------------------------------------------------------


def test_shapes_range_and_length_is_the_larger_domain(toy, tmp_path):
    pairs = UnalignedPairs(toy, load_size=40, crop_size=24, seed=0)
    assert len(pairs) == 5
    items = list(pairs)  # iteration stops at len: __getitem__ raises IndexError past the end
    assert len(items) == 5
    for a, b in items:
        assert a.shape == b.shape == (3, 24, 24) and a.dtype == b.dtype == torch.float32
        assert a.min() >= -1 and a.max() <= 1 and b.min() >= -1 and b.max() <= 1
    assert len(UnalignedPairs(make_dataset(tmp_path / "more_a", {"trainA": 4, "trainB": 2}))) == 4
    with pytest.raises(IndexError, match="index 5 is out of range for 5 items"):
        pairs[5]
    assert which(pairs[-1][0]) == which(pairs[4][0]) == tag("A", 1)


def test_a_cycles_through_its_files_in_order(toy):
    pairs = UnalignedPairs(toy, load_size=SIDE, crop_size=24, seed=1)
    assert [which(pairs[i][0]) for i in range(5)] == [tag("A", i % 3) for i in range(5)]


def test_b_is_drawn_uniformly_at_random(toy):
    pairs = UnalignedPairs(toy, load_size=SIDE, crop_size=24, seed=2)
    counts = Counter(which(pairs[0][1]) for _ in range(500))
    assert set(counts) == {tag("B", i) for i in range(5)}
    assert all(60 < n < 140 for n in counts.values()), counts  # each of the 5 files about 100 times


def test_seed_reproduces_the_b_draws_crops_and_flips(toy):
    def draws(seed):
        pairs = UnalignedPairs(toy, load_size=40, crop_size=24, seed=seed)
        return torch.stack([torch.cat(pairs[i % 5]) for i in range(12)])

    assert torch.equal(draws(7), draws(7))
    assert not torch.equal(draws(7), draws(8))


def test_without_a_seed_the_global_generator_decides(toy):
    pairs = UnalignedPairs(toy, load_size=40, crop_size=24)
    torch.manual_seed(5)
    first = torch.cat(pairs[0])
    torch.manual_seed(5)
    assert torch.equal(torch.cat(pairs[0]), first)


def test_serial_takes_b_in_order_too(toy, tmp_path):
    pairs = UnalignedPairs(toy, load_size=SIDE, crop_size=24, seed=3, serial=True)
    assert [which(pairs[i][1]) for i in range(5)] == [tag("B", i) for i in range(5)]
    longer_a = UnalignedPairs(make_dataset(tmp_path / "a", {"trainA": 5, "trainB": 2}), serial=True, crop_size=24)
    assert [which(longer_a[i][1]) for i in range(5)] == [tag("B", i % 2) for i in range(5)]


# --- the transform --------------------------------------------------------------------------------------------


def test_a_and_b_get_their_own_crop_and_flip(toy):
    pairs = UnalignedPairs(toy, load_size=SIDE, crop_size=24, seed=4)  # load_size == SIDE: resizing is the identity
    seen_a, seen_b, differ = set(), set(), 0
    for _ in range(60):
        a, b = pairs[0]
        seen_a.add(crop_and_flip(a))
        seen_b.add(crop_and_flip(b))
        differ += crop_and_flip(a) != crop_and_flip(b)
    assert differ > 50  # shared draws would always agree
    for seen in (seen_a, seen_b):
        assert all(0 <= x <= SIDE - 24 and 0 <= y <= SIDE - 24 for x, y, _ in seen)
        assert len({(x, y) for x, y, _ in seen}) > 5 and {flip for _, _, flip in seen} == {False, True}


@pytest.mark.parametrize("channels", [1, 3])
def test_training_transform_matches_the_official_pipeline(toy, channels):
    pairs = UnalignedPairs(toy, load_size=40, crop_size=32, channels=channels, seed=5, serial=True)
    for index in range(3):
        for domain, tensor in zip("AB", pairs[index]):
            source = coordinate_image(tag(domain, index))
            matches = [
                (x, y, flip)
                for x in range(9) for y in range(9) for flip in (False, True)
                if torch.allclose(tensor, official(source, 40, 32, x, y, flip, gray=channels == 1), atol=1e-5)
            ]
            assert len(matches) == 1, (domain, matches)  # exactly one official (crop, flip) gives it


def test_flips_about_half_the_time_in_training_never_at_test(toy):
    train = UnalignedPairs(toy, load_size=SIDE, crop_size=24, seed=6)
    flips = sum(crop_and_flip(side)[2] for i in range(100) for side in train[i % 5])
    assert 60 < flips < 140
    test = UnalignedPairs(toy, "test", load_size=SIDE, crop_size=24, seed=6)
    assert not any(crop_and_flip(side)[2] for i in range(40) for side in test[i % 2])


def test_test_split_defaults_to_the_official_test_transform(toy):
    pairs = UnalignedPairs(toy, "test", load_size=286, crop_size=20, serial=True)
    assert not pairs.train and UnalignedPairs(toy).train
    first = pairs[1]
    for _ in range(5):
        again = pairs[1]
        assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    # test_options.py sets load_size to crop_size: resized straight to crop_size, no crop, no flip
    assert torch.allclose(first[0], official(coordinate_image(tag("A", 1)), 20, 20, 0, 0, False, False), atol=1e-5)
    assert torch.allclose(first[1], official(coordinate_image(tag("B", 1)), 20, 20, 0, 0, False, False), atol=1e-5)
    assert UnalignedPairs(toy, "test", train=True).train and not UnalignedPairs(toy, train=False).train


def test_direction_btoa_swaps_the_domains(toy):
    a, b = UnalignedPairs(toy, load_size=40, crop_size=24, seed=8)[2]
    source, target = UnalignedPairs(toy, load_size=40, crop_size=24, seed=8, direction="BtoA")[2]
    assert torch.equal(source, b) and torch.equal(target, a)
    assert which(source) > 100 and which(target) == tag("A", 2)  # the input now comes from B


def test_one_channel_is_the_official_grayscale(toy):
    a, b = UnalignedPairs(toy, "test", crop_size=SIDE, channels=1, serial=True)[0]
    assert a.shape == b.shape == (1, SIDE, SIDE)
    assert np.array_equal(pixels(a)[0], np.asarray(coordinate_image(tag("A", 0)).convert("L")))
    assert np.array_equal(pixels(b)[0], np.asarray(coordinate_image(tag("B", 0)).convert("L")))


def test_files_of_any_size_and_format_are_found_and_read(tmp_path):
    folder = make_dataset(tmp_path / "mixed", {"trainA": 1, "trainB": 0})
    (folder / "trainB" / "deep").mkdir(parents=True)
    coordinate_image(tag("B", 0), side=48).save(folder / "trainB" / "deep" / "big.JPG", quality=95)
    coordinate_image(tag("B", 1), side=20).save(folder / "trainB" / "small.bmp")
    (folder / "trainB" / "notes.txt").write_text("not an image")
    pairs = UnalignedPairs(folder, crop_size=24, train=False, serial=True)
    assert [p.relative_to(folder / "trainB").as_posix() for p in pairs.paths_b] == ["deep/big.JPG", "small.bmp"]
    assert len(pairs) == 2
    big, small = pairs[0][1], pairs[1][1]
    assert big.shape == small.shape == (3, 24, 24)
    assert abs(which(big) - tag("B", 0)) <= 3 and which(small) == tag("B", 1)  # JPEG is lossy


def test_grayscale_files_become_three_channels(tmp_path):
    folder = make_dataset(tmp_path / "gray", {"trainA": 0, "trainB": 1})
    coordinate_image(0).convert("L").save(folder / "trainA" / "0.png")
    a, _ = UnalignedPairs(folder, load_size=SIDE, crop_size=SIDE)[0]
    assert a.shape == (3, SIDE, SIDE) and torch.equal(a[0], a[1]) and torch.equal(a[1], a[2])


def test_named_dataset_is_read_from_the_root(tmp_path):
    make_dataset(cyclegan_folder(tmp_path) / "horse2zebra", {"testA": 3, "testB": 1})
    pairs = UnalignedPairs("horse2zebra", "test", root=tmp_path, crop_size=24)
    assert len(pairs) == 3 and pairs.folder_a == tmp_path / "cyclegan" / "horse2zebra" / "testA"


# --- what goes wrong ------------------------------------------------------------------------------------------


def test_missing_named_dataset_says_what_to_download_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        UnalignedPairs("monet2photo", root=tmp_path)
    message = str(caught.value)
    assert "python -m gancourse.unaligned download monet2photo" in message
    assert str(tmp_path / "cyclegan" / "monet2photo" / "trainA") in message
    assert str(tmp_path / "cyclegan" / "monet2photo") in message


@pytest.mark.parametrize("missing", ["trainA", "trainB"])
def test_missing_domain_folder_is_named_with_the_folders_that_exist(tmp_path, missing):
    folder = make_dataset(tmp_path / "half", {"trainA": 1, "trainB": 1, "testA": 1})
    (folder / missing / "0.png").unlink()
    (folder / missing).rmdir()
    there = sorted({"trainA", "trainB", "testA"} - {missing})
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing} not found (folders there: {there!r})")):
        UnalignedPairs(folder)


def test_unknown_folder_names_the_official_datasets(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="holds trainA/ and trainB/ .official datasets: apple2orange"):
        UnalignedPairs(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    make_dataset(cyclegan_folder(tmp_path) / "maps")
    with pytest.raises(FileNotFoundError, match="official datasets"):  # a Path is a folder, even if named maps
        UnalignedPairs(Path("maps"), root=tmp_path)


@pytest.mark.parametrize("empty", ["trainA", "trainB"])
def test_an_empty_domain_is_a_clear_error(tmp_path, empty):
    folder = make_dataset(tmp_path / "empty", {"trainA": 2, "trainB": 2})
    for path in (folder / empty).iterdir():
        path.unlink()
    (folder / empty / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=rf"{empty} holds no images \(.*\.jpg.*both domains need some"):
        UnalignedPairs(folder)


def rgba(alpha: int) -> Image.Image:
    """A coordinate image with a uniform alpha channel."""
    image = coordinate_image(0).convert("RGBA")
    image.putalpha(alpha)
    return image


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("text.jpg", b"<html>404 Not Found</html>", "PIL cannot read it as an image"),
        ("cut.png", b"\x89PNG\r\n\x1a\n\x00\x00", "PIL cannot read it as an image"),
        ("alpha.png", rgba(128), "transparent pixels \\(mode RGBA\\)"),
        ("deep.png", Image.new("I;16", (32, 32)), "mode I;16"),
        ("print.jpg", Image.new("CMYK", (32, 32)), "mode CMYK"),
    ],
)
@pytest.mark.parametrize("domain", ["A", "B"])
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, problem, domain):
    folder = make_dataset(tmp_path / "bad", {"trainA": 1, "trainB": 1})
    path = folder / f"train{domain}" / name
    path.write_bytes(content) if isinstance(content, bytes) else content.save(path)
    pairs = UnalignedPairs(folder, crop_size=24, serial=True)
    index = (pairs.paths_a if domain == "A" else pairs.paths_b).index(path)
    pairs[1 - index]  # the good file beside it still loads
    with pytest.raises(BrokenImage, match=problem) as caught:
        pairs[index]
    assert caught.value.path == path and str(path) in str(caught.value)
    assert "move it out of the dataset folder" in str(caught.value) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"load_size": 64, "crop_size": 65}, "crop_size <= load_size"),
        ({"crop_size": 0}, "0 < crop_size"),
        ({"load_size": 64.0, "crop_size": 32}, "integers"),
        ({"direction": "AB"}, "direction must be 'AtoB' or 'BtoA'"),
        ({"channels": 2}, "channels must be 1"),
    ],
)
def test_bad_arguments_are_value_errors(toy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        UnalignedPairs(toy, **kwargs)


# --- downloading ----------------------------------------------------------------------------------------------


def build_zip(path: Path, name: str = "horse2zebra", extra: zipfile.ZipInfo | None = None) -> Path:
    """Write ``path``: a zip holding ``<name>/{trainA,trainB,testA,testB}/`` images (and one extra member)."""
    source = make_dataset(path.parent / "source" / name, {"trainA": 2, "trainB": 3, "testA": 1, "testB": 1})
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as bundle:
        for file in sorted(source.rglob("*")):
            bundle.write(file, file.relative_to(source.parent).as_posix())
        if extra is not None:
            bundle.writestr(extra, "/etc/passwd" if stat.S_ISLNK(extra.external_attr >> 16) else "evil")
    return path


def sha256(path: Path) -> str:
    """The SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve(monkeypatch, archive: Path, digest: str | None = "match") -> list[str]:
    """Serve ``archive`` in place of horse2zebra.zip with the given published digest; return the URLs requested."""
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return archive.open("rb")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    published = sha256(archive) if digest == "match" else digest
    monkeypatch.setitem(DATASETS, "horse2zebra", Archive(f"{BASE_URL}/horse2zebra.zip", published))
    return requested


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Serve a local horse2zebra zip with its right digest; return (archive, list of URLs requested)."""
    archive = build_zip(tmp_path / "server" / "horse2zebra.zip")
    return archive, serve(monkeypatch, archive)


def test_registry_lists_the_names_of_the_official_script():
    assert list(DATASETS) == [
        "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo", "ukiyoe2photo",
        "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower", "ae_photos",
    ]
    for name, spec in DATASETS.items():
        assert spec.url in (None, f"http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip")
        assert spec.sha256 is None or (len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0)
    assert [n for n, spec in DATASETS.items() if spec.sha256 is None] == ["cityscapes", "ae_photos"]


def test_download_verifies_and_extracts_to_the_root(tmp_path, served):
    root = tmp_path / "root"
    folder = download("horse2zebra", root)
    assert folder == root / "cyclegan" / "horse2zebra"
    assert served[1] == [f"{BASE_URL}/horse2zebra.zip"]
    assert sorted(p.name for p in folder.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    pairs = UnalignedPairs("horse2zebra", root=root, load_size=40, crop_size=24)
    assert (len(pairs.paths_a), len(pairs.paths_b)) == (2, 3)
    assert sorted(p.name for p in (root / "cyclegan").iterdir()) == ["horse2zebra"]  # zip and staging removed
    assert download("horse2zebra", root) == folder and len(served[1]) == 1  # already there: not fetched again


def test_download_uses_the_data_root_by_default(tmp_path, served, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "env"))
    assert download("horse2zebra") == tmp_path / "env" / "cyclegan" / "horse2zebra"


def test_checksum_mismatch_raises_and_deletes_the_archive(tmp_path, monkeypatch):
    archive = build_zip(tmp_path / "server" / "horse2zebra.zip")
    serve(monkeypatch, archive, "0" * 64)
    with pytest.raises(BrokenArchive, match=f"its SHA-256 is {sha256(archive)}, not the published 0{{64}}") as caught:
        download("horse2zebra", tmp_path)
    assert caught.value.path == tmp_path / "cyclegan" / "horse2zebra.zip"
    assert "deleted, not extracted: run `python -m gancourse.unaligned download horse2zebra` again" in str(caught.value)
    assert list((tmp_path / "cyclegan").iterdir()) == []  # nothing kept, nothing extracted


def test_archive_without_checksum_is_extracted_with_a_warning_giving_its_sha256(tmp_path, monkeypatch):
    archive = build_zip(tmp_path / "server" / "horse2zebra.zip")
    serve(monkeypatch, archive, None)
    with pytest.warns(UnverifiedDownloadWarning, match=f"could not be verified; its SHA-256 is {sha256(archive)}"):
        folder = download("horse2zebra", tmp_path)
    assert (folder / "trainB" / "2.png").is_file()


def member(name: str, symlink: bool = False) -> zipfile.ZipInfo:
    """A zip member; a symlink has the Unix S_IFLNK type in its external attributes, as `zip -y` writes it."""
    info = zipfile.ZipInfo(name)
    info.external_attr = ((stat.S_IFLNK | 0o777) if symlink else (stat.S_IFREG | 0o644)) << 16
    return info


@pytest.mark.parametrize(
    "extra",
    [member("../../evil.txt"), member("horse2zebra/../../evil.txt"), member("/tmp/evil.txt"),
     member("horse2zebra/trainA/link.png", symlink=True)],
    ids=["parent", "nested-parent", "absolute", "symlink"],
)
def test_unsafe_zip_members_are_refused(tmp_path, monkeypatch, extra):
    archive = build_zip(tmp_path / "unsafe" / "horse2zebra.zip", extra=extra)
    serve(monkeypatch, archive)
    with pytest.raises(BrokenArchive, match=f"member '{extra.filename}' is a link, device or path outside"):
        download("horse2zebra", tmp_path / "root")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "root" / "evil.txt").exists()
    assert list((tmp_path / "root" / "cyclegan").iterdir()) == []


def test_corrupt_archive_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"<html>oops</html>"))
    monkeypatch.setitem(DATASETS, "horse2zebra", Archive(f"{BASE_URL}/horse2zebra.zip", None))
    with pytest.warns(UnverifiedDownloadWarning), pytest.raises(BrokenArchive, match="not a readable zip archive"):
        download("horse2zebra", tmp_path)
    assert list((tmp_path / "cyclegan").iterdir()) == []


def test_archive_without_the_dataset_folders_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "server" / "horse2zebra.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("horse2zebra/readme.txt", "wrong archive")
    serve(monkeypatch, archive)
    with pytest.raises(BrokenArchive, match="it holds none of horse2zebra/trainA/, horse2zebra/trainB/"):
        download("horse2zebra", tmp_path)
    assert list((tmp_path / "cyclegan").iterdir()) == []


def test_offline_error_says_what_to_download_where_and_how(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError) as caught:
        download("monet2photo", tmp_path)
    message = str(caught.value)
    for part in ("CycleGAN dataset 'monet2photo'", f"{BASE_URL}/monet2photo.zip",
                 str(tmp_path / "cyclegan" / "monet2photo.zip"), "python -m gancourse.unaligned download monet2photo",
                 "name resolution"):
        assert part in message
    assert isinstance(caught.value, OSError)
    assert list((tmp_path / "cyclegan").iterdir()) == []  # no partial file left behind


def test_archive_copied_by_hand_is_verified_and_extracted_offline(tmp_path, served, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: pytest.fail("must not download"))
    (tmp_path / "cyclegan").mkdir()
    (tmp_path / "cyclegan" / "horse2zebra.zip").write_bytes(served[0].read_bytes())
    assert (download("horse2zebra", tmp_path) / "testB" / "0.png").is_file()


def test_cityscapes_and_unknown_names_are_not_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="license.*cityscapes-dataset.com.*trainA/ and trainB/"):
        download("cityscapes", tmp_path)
    with pytest.raises(ValueError, match="unknown CycleGAN dataset 'zebras'; the official ones are apple2orange"):
        download("zebras", tmp_path)


# --- command line ---------------------------------------------------------------------------------------------


def test_cli_info_lists_datasets_and_images_per_folder(tmp_path, capsys):
    make_dataset(cyclegan_folder(tmp_path) / "horse2zebra")
    make_dataset(cyclegan_folder(tmp_path) / "mine", {"testA": 1, "testB": 4})
    assert main(["info", "--root", str(tmp_path)]) == 0
    lines = {line.split(":")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == set(DATASETS) | {"mine"}
    assert "trainA 3, trainB 5, testA 2, testB 2 images" in lines["horse2zebra"]
    assert "testA 1, testB 4 images" in lines["mine"]
    assert "missing (python -m gancourse.unaligned download maps)" in lines["maps"]


def test_cli_download(tmp_path, served, capsys):
    assert main(["download", "horse2zebra", "--root", str(tmp_path)]) == 0
    assert str(tmp_path / "cyclegan" / "horse2zebra") in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main(["download"])
    assert caught.value.code == 2
    assert "download needs a dataset name" in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gancourse.unaligned", "info", "--root", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    missing = r"^horse2zebra +: missing \(python -m gancourse.unaligned download horse2zebra\)$"
    assert re.search(missing, result.stdout, re.M)
