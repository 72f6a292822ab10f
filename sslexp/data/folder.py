"""``folder:PATH``: a directory with one sub-directory of images per class."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sslexp.data.dataset import DatasetSource, RawDataset
from sslexp.errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def list_images(root: Path) -> dict[str, list[Path]]:
    """Class name -> image files, classes in sorted order."""
    if not root.is_dir():
        raise InputError(
            "dataset",
            f"folder:{root}",
            "is not a directory. Give a directory with one sub-directory of images per class.",
        )
    classes = {}
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in class_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if files:
            classes[class_dir.name] = files
    if len(classes) < 2:
        raise InputError(
            "dataset",
            f"folder:{root}",
            f"found {len(classes)} class sub-director{'y' if len(classes) == 1 else 'ies'} with "
            f"images ({', '.join(classes) or 'none'}); a classifier needs at least 2. Lay it out "
            f"as {root}/<class name>/<image files> ({', '.join(sorted(IMAGE_SUFFIXES))}).",
        )
    return classes


def decode(path: Path, image_size: int) -> np.ndarray | None:
    """The image as uint8 RGB resized to a square, or None when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def load(root: Path, image_size: int) -> RawDataset:
    from sklearn.model_selection import train_test_split
    from tqdm import tqdm

    classes = list_images(root)
    images, labels, skipped = [], [], []
    files = [(label, path) for label, paths in enumerate(classes.values()) for path in paths]
    for label, path in tqdm(files, desc=f"decoding {root.name}", unit="img", leave=False):
        image = decode(path, image_size)
        if image is None:
            skipped.append(path.relative_to(root).as_posix())
            continue
        images.append(image)
        labels.append(label)
    labels = np.array(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=len(classes))
    too_few = [name for name, count in zip(classes, counts) if count < 2]
    if too_few:
        raise InputError(
            "dataset",
            f"folder:{root}",
            f"classes {too_few} have fewer than 2 readable images ({len(skipped)} unreadable "
            "files skipped); each class needs images for both the pool and the test split.",
        )
    pool_x, test_x, pool_y, test_y = train_test_split(
        np.stack(images),
        labels,
        test_size=max(TEST_FRACTION, len(classes) / len(labels)),
        stratify=labels,
        random_state=SPLIT_SEED,
    )
    return RawDataset(pool_x, pool_y, test_x, test_y, tuple(classes), skipped_files=tuple(skipped))


def content_token(root: Path) -> str:
    """Changes whenever a file is added, removed or modified."""
    digest = hashlib.sha256(str(root.resolve()).encode())
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def source(path: str) -> DatasetSource:
    root = Path(path).expanduser()
    return DatasetSource(
        name=f"folder:{path}",
        source=f"image files under {root}",
        sizes="80% pool / 20% test per class, RGB",
        load=lambda image_size: load(root, image_size),
        availability=lambda: (
            root.is_dir(),
            "directory exists" if root.is_dir() else "no such directory",
        ),
        cache_token=lambda: content_token(root),
        extent=lambda: (sum(len(files) for files in list_images(root).values()), 3),
    )


def _needs_a_path(image_size: int) -> RawDataset:
    raise InputError("dataset", "folder:PATH", "replace PATH with a directory of class folders.")


def pattern_source() -> DatasetSource:
    """How ``folder:PATH`` shows up in ``sslexp datasets``."""
    return DatasetSource(
        name="folder:PATH",
        source="your images: PATH/<class name>/<image files>",
        sizes="80% pool / 20% test per class, RGB; unreadable files left out, listed",
        load=_needs_a_path,
        availability=lambda: (True, "any readable directory"),
    )


SKIPPED_SHOWN = 3  # file names a summary line lists before "and N more"


def skipped_files_line(records: Iterable) -> str | None:
    """One line on the unreadable files the runs' folder data sets left out (how many,
    and which, up to a few), from their records; None when none were."""
    skipped: dict[str, set[str]] = {}
    for record in records:
        if record is None or not getattr(record, "skipped_files", None):
            continue
        dataset = str((record.config or {}).get("dataset") or "the folder data set")
        skipped.setdefault(display_name(dataset), set()).update(record.skipped_files)
    if not skipped:
        return None
    parts = []
    for dataset, names in sorted(skipped.items()):
        names = sorted(names)
        listed = ", ".join(names[:SKIPPED_SHOWN]) + (
            f" and {len(names) - SKIPPED_SHOWN} more" if len(names) > SKIPPED_SHOWN else ""
        )
        parts.append(
            f"{len(names)} unreadable file{'s' if len(names) != 1 else ''} of "
            f"{dataset} skipped ({listed})"
        )
    return "; ".join(parts) + ": every run's results.json lists them under skipped_files."


def display_name(dataset: str) -> str:
    """``folder:/data/shared/pets`` as people name it: ``folder:pets`` (the folder's name,
    not its absolute path); other data sets as they are."""
    if not dataset.startswith("folder:"):
        return dataset
    path = dataset[len("folder:") :].rstrip("/\\")
    return f"folder:{Path(path).name or path}"
