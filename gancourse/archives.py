"""The official datasets' files: fetch an archive, check it against its published digest, unpack it safely.

Shared by `gancourse.aligned` (pix2pix, ``.tar.gz``) and `gancourse.unaligned` (CycleGAN, ``.zip``), which both
follow the official scripts of junyanz/pytorch-CycleGAN-and-pix2pix: download ``<name>.<ext>``, unpack it into
the folder that holds it, delete it. `install` adds what those scripts lack: the digest is checked before anything
is unpacked (an archive with no published digest is unpacked with an `UnverifiedDownloadWarning` giving its
SHA-256), members that are links, devices or paths outside the folder are refused, an interrupted download or
extraction never looks complete, and offline it says how to copy the archive in by hand. `image_files` and
`open_image` then find and open the images an archive held, as the official data/image_folder.py does, and
`dataset_cli` is both modules' ``download NAME | info`` command line.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import stat
import tarfile
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# The image extensions of the official data/image_folder.py; other files in a dataset folder are ignored.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff"}
DIGEST_NAMES = {"md5": "MD5", "sha256": "SHA-256"}


class UnverifiedDownloadWarning(UserWarning):
    """Warned when an archive with no published checksum is extracted; the warning gives its SHA-256."""


class BrokenDatasetFile(ValueError):
    """A file on disk that cannot be used; the message names it, says what is wrong and how to fix it."""

    advice: str  # what to do about it, set by each subclass

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(path, problem)
        self.path, self.problem = Path(path), problem

    def __str__(self) -> str:
        return f"{self.path} is broken: {self.problem}. {self.advice}"


class BrokenArchive(BrokenDatasetFile):
    """A downloaded archive that fails its checksum, is not a readable archive, or holds unsafe members."""

    def __init__(self, path: str | Path, problem: str, command: str = "the download command") -> None:
        super().__init__(path, problem)
        self.advice = f"It was deleted, not extracted: run `{command}` again to fetch it anew."


class BrokenImage(BrokenDatasetFile):
    """An image file in a dataset folder that cannot be read faithfully (unreadable, transparent, odd mode)."""

    advice = "Replace it with a good copy from the dataset archive, or move it out of the dataset folder."


def file_digest(path: Path, algorithm: str) -> str:
    """Return the hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(archive: Path, algorithm: str, expected: str | None, command: str) -> None:
    """Raise `BrokenArchive` unless the archive has the published digest; without one, warn its SHA-256."""
    if expected is None:
        warnings.warn(
            f"{archive.name} has no published checksum, so it could not be verified; "
            f"its SHA-256 is {file_digest(archive, 'sha256')}",
            UnverifiedDownloadWarning,
            stacklevel=4,  # the caller of the module's download()
        )
    elif (got := file_digest(archive, algorithm)) != expected:
        raise BrokenArchive(
            archive, f"its {DIGEST_NAMES[algorithm]} is {got}, not the published {expected} (if the server's "
            f"archive has changed, extract a copy by hand into {archive.parent})", command
        )


def extract(archive: Path, folder: Path, command: str) -> None:
    """Extract a .zip or .tar.gz into ``folder``, refusing members that are not plain files or folders inside it."""
    inside, kind = folder.resolve(), "zip" if archive.suffix == ".zip" else "tar.gz"

    def check(name: str, plain: bool) -> None:
        if not plain or not (inside / name).resolve().is_relative_to(inside):
            raise BrokenArchive(archive, f"member {name!r} is a link, device or path outside {folder}", command)

    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as bundle:
                for info in bundle.infolist():
                    kind_bits = stat.S_IFMT(info.external_attr >> 16)  # Unix file type; 0 if not made on Unix
                    check(info.filename, kind_bits in (0, stat.S_IFREG, stat.S_IFDIR))
                bundle.extractall(folder)
        else:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    check(member.name, member.isfile() or member.isdir())
                tar.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        raise BrokenArchive(archive, f"it is not a readable {kind} archive ({error})", command) from None


def install(
    url: str, archive: Path, algorithm: str, expected: str | None, *, markers: tuple[str, ...], command: str, what: str
) -> Path:
    """Fetch ``url`` to ``archive``, verify and extract it beside itself; return the ``<name>/`` folder it held.

    ``<name>`` is the archive's name without its extension; the dataset counts as there once ``<name>/`` holds
    any of the ``markers`` folders (then nothing is done). An archive already at ``archive`` (copied in by hand)
    is verified and used as is. The archive is deleted once extracted, and also when it is refused.
    ``command`` (the command that runs this) and ``what`` (e.g. "pix2pix dataset") go into the error messages.
    """
    folder, name = archive.parent, archive.name.split(".")[0]
    if any((folder / name / marker).is_dir() for marker in markers):
        return folder / name
    folder.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        partial = archive.with_name(archive.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:  # URLError, timeouts and refused connections are all OSErrors
            partial.unlink(missing_ok=True)
            raise ConnectionError(
                f"Could not download {what} {name!r} from {url} ({error}). On a machine with internet access "
                f"run `{command}` (or fetch the URL by hand) and copy {archive.name} to {archive}; then run the "
                "same command here to verify and extract it."
            ) from error
        partial.replace(archive)
    staging = folder / f".{name}.extracting"  # so that an interrupted extraction never looks complete
    shutil.rmtree(staging, ignore_errors=True)
    try:
        verify(archive, algorithm, expected, command)
        extract(archive, staging, command)
        if not any((staging / name / marker).is_dir() for marker in markers):
            raise BrokenArchive(archive, f"it holds none of {', '.join(f'{name}/{m}/' for m in markers)}", command)
    except BrokenArchive:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / name).replace(folder / name)
    shutil.rmtree(staging)
    archive.unlink()  # as the official scripts do: the extracted folder is all that is read
    return folder / name


def image_files(folder: Path) -> list[Path]:
    """Return the image files under ``folder`` (recursively, sorted), as the official make_dataset finds them."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def open_image(path: Path, mode: str, broken: type[BrokenDatasetFile] = BrokenImage) -> Image.Image:
    """Open an image as ``mode`` ("RGB" or "L"); raise ``broken`` for anything that would not convert faithfully."""
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise broken(path, f"PIL cannot read it as an image ({error})") from None
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA", "PA") else None
    if (alpha is not None and alpha.getextrema()[0] < 255) or (image.mode == "P" and "transparency" in image.info):
        raise broken(path, f"it has transparent pixels (mode {image.mode}); save it as opaque RGB")
    if image.mode not in ("RGB", "L", "1", "P", "RGBA", "LA", "PA"):
        raise broken(
            path, f"its mode {image.mode} (16-bit, float, CMYK, ...) would change colours when converted to RGB "
            "as the official code does; save it as 8-bit RGB or grayscale"
        )
    return image.convert("RGB").convert(mode)


def dataset_cli(
    argv: list[str] | None, module: str, description: str, datasets: Sequence[str],
    download: Callable[[str, str | None], Path], folder: Callable[[str | None], Path], subfolders: Sequence[str],
    unit: str,
) -> int:
    """``python -m <module> download NAME | info [--root DIR]``: fetch one of ``datasets``, or list per dataset the
    image count in each of its ``subfolders`` (as ``unit``, e.g. "pairs"); returns the exit status."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("command", choices=["download", "info"])
    parser.add_argument("name", nargs="?", choices=list(datasets), help="dataset to download")
    parser.add_argument("--root", default=None, help="dataset root (default: $GANCOURSE_DATA or data/)")
    args = parser.parse_args(argv)
    if args.command == "download":
        if args.name is None:
            parser.error(f"download needs a dataset name: {', '.join(datasets)}")
        print(f"{args.name} is in {download(args.name, args.root)}")
        return 0
    root = folder(args.root)
    on_disk = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} if root.is_dir() else set()
    names = sorted(on_disk | set(datasets))
    width = max(len(name) for name in names)
    for name in names:
        found = [s for s in subfolders if (root / name / s).is_dir()]
        counts = ", ".join(f"{s} {len(image_files(root / name / s))}" for s in found)
        hint = f"missing (python -m {module} download {name})" if name in datasets else f"no {'/'.join(subfolders)}"
        print(f"{name:{width}s}: " + (f"{counts} {unit} in {root / name}" if found else hint))
    return 0
