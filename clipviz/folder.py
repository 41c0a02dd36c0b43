"""Your own captioned pictures: a folder of images plus a CSV of captions, as the kit's ImageTextPairs.

The layout is the one open_clip's trainer reads with `--dataset-type csv`, so one
folder serves the notebooks and the real engine alike:

    my_photos/
        captions.csv            filepath,title
        images/dog.jpg          images/dog.jpg,a dog asleep on a sofa
        images/cat.png          images/cat.png,"a cat, wide awake"

Paths are relative to the CSV's folder here; open_clip's trainer reads them relative to
where it runs, so start it from that folder (the command `clipviz.export` prints does).

`folder_dataset` checks every row before it returns anything: a missing file, an
empty caption, an unreadable image or a malformed row is reported with its CSV line
number, all of them in one FolderDataError, so nothing is loaded silently wrong.
Each image is cut to a centred square and shrunk to `image_size` pixels, as open_clip's
preprocessing does (shortest side resized, centre crop); JPEGs are decoded straight
at a reduced scale, so a folder of 12-megapixel photos loads quickly.
"""
from __future__ import annotations

import csv
import io
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .data import STYLES, ImageTextPairs
from .encode import _to_rgb

MAX_LISTED = 20  # bad rows spelled out in one error; the rest are counted


class FolderDataError(ValueError):
    """A captions file with bad rows. problems: [(CSV line number, what is wrong), ...], every one found."""

    def __init__(self, csv_path: str, problems: list[tuple[int, str]], total_rows: int):
        self.csv_path, self.problems = csv_path, problems
        listed = "\n".join(f"  line {line}: {what}" for line, what in problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        bad = len({line for line, _ in problems})
        super().__init__(f"{csv_path}: {bad} of {total_rows} rows cannot be used; nothing was loaded. "
                         f"Fix or delete these rows and load again:\n{listed}{more}")


def open_downscaled(source, max_side: int, *, square: bool = False) -> Image.Image:
    """Open an image (a path, a file object or bytes) as RGB, at most `max_side` pixels on its long side.

    square: instead cut a centred square and resize it to max_side x max_side, as open_clip's
        preprocessing does (shortest side resized, then a centre crop).
    JPEGs are decoded directly at 1/2, 1/4 or 1/8 scale when that still covers `max_side`
    (Pillow's draft mode), so a 12-megapixel photo costs a fraction of a full decode.
    Raises ValueError saying why for a file that is not an image, truncated, or too large to open safely.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    try:
        with Image.open(source) as image:
            w, h = image.size
            fit = max_side / (min(w, h) if square else max(w, h))  # the scale the result needs
            image.draft("RGB", (math.ceil(w * fit), math.ceil(h * fit)))  # JPEG only: decode at the smallest
            # of 1/1, 1/2, 1/4, 1/8 that still covers that
            image.load()  # read every byte now, so a truncated file fails here
            image = _to_rgb(image)
    except Image.DecompressionBombError as err:
        raise ValueError(f"it is too large to open safely ({err}); shrink it first") from None
    except UnidentifiedImageError:
        raise ValueError("it is not an image Pillow can read (PNG, JPEG, GIF, WebP, ...)") from None
    except (OSError, SyntaxError) as err:
        raise ValueError(f"it looks truncated or corrupt ({err})") from None
    if square and image.size != (max_side, max_side):
        return ImageOps.fit(image, (max_side, max_side), Image.BILINEAR)  # centre crop to a square, then resize
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.BILINEAR)  # keeps the aspect ratio
    return image


def read_captions(csv_path: str | os.PathLike, image_key: str = "filepath", caption_key: str = "title",
                  sep: str = ",") -> tuple[list[tuple[int, str, str]], list[tuple[int, str]]]:
    """The rows of a captions CSV, checked for everything but the pixels.

    image_key, caption_key, sep: the column names and separator, as open_clip's
        --csv-img-key, --csv-caption-key and --csv-separator.
    Returns (rows, problems): rows are (line number, image path, caption) with the path
    resolved against the CSV's folder; problems are (line number, what is wrong).
    Raises FileNotFoundError for a missing CSV and FolderDataError for a header that
    lacks the two columns.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"no captions file at {str(csv_path)!r}; a folder dataset needs a CSV with the "
                                f"columns {image_key},{caption_key} (one row per image)")
    try:
        return _read_rows(csv_path, image_key, caption_key, sep)
    except UnicodeDecodeError:
        for line, raw in enumerate(csv_path.read_bytes().splitlines(), 1):  # find the first line that is not UTF-8
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                break
        raise FolderDataError(str(csv_path), [(line, "this line is not UTF-8 text; save the file as 'CSV UTF-8' "
                                                     "(Excel) or re-encode it as UTF-8")], 0) from None


def _read_rows(csv_path: Path, image_key: str, caption_key: str, sep: str):
    root = csv_path.parent
    rows, problems = [], []
    with open(csv_path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: a BOM written by Excel is dropped
        reader = csv.reader(f, delimiter=sep)
        header = next(reader, None)
        if header is None:
            raise FolderDataError(str(csv_path), [(1, "the file is empty; the first line must be the header "
                                                      f"{image_key}{sep}{caption_key}")], 0)
        header = [h.strip() for h in header]
        missing = [k for k in (image_key, caption_key) if k not in header]
        if missing:
            hint = " (it looks tab-separated: save it with commas)" if len(header) == 1 and "\t" in header[0] else ""
            raise FolderDataError(str(csv_path), [(1, f"the header names the columns {header}, but "
                                                      f"{missing} {'is' if len(missing) == 1 else 'are'} missing"
                                                      f"{hint}; the first line must be {image_key}{sep}{caption_key}")], 0)
        i_img, i_cap = header.index(image_key), header.index(caption_key)
        line = reader.line_num + 1  # the line the next record starts on
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(field.strip() for field in record):
                continue  # a blank line
            if len(record) != len(header):
                problems.append((start, f"{len(record)} fields where the header has {len(header)}; "
                                        f"put a caption that contains {sep!r} in double quotes"))
                continue
            filepath, caption = record[i_img].strip(), record[i_cap].strip()
            if not caption:
                problems.append((start, f"empty caption for {filepath!r}; every image needs a caption"))
            elif not filepath:
                problems.append((start, f"empty {image_key} for caption {caption[:40]!r}"))
            elif not (root / filepath).is_file():
                problems.append((start, f"{filepath!r} does not exist (looked for {str(root / filepath)!r})"))
            else:
                rows.append((start, str(root / filepath), caption))
    return rows, problems


def folder_dataset(path: str | os.PathLike, image_size: int = 32, *, style: str = "photo",
                   image_key: str = "filepath", caption_key: str = "title", sep: str = ",",
                   workers: int = 4) -> ImageTextPairs:
    """Read a folder of captioned images into ImageTextPairs that train(), encode and zero-shot take unchanged.

    path: a folder holding captions.csv, or a CSV file itself (e.g. the train.csv or val.csv
        that `python -m clipviz export` writes). Image paths in the CSV are relative to its folder.
    image_size: side of the square images in pixels: 32 for the mini CLIP; a pretrained
        model's own size (224 for ViT-B-32) costs 3 * 224 * 224 * 4 = 0.6 MB per image.
    style: what the pictures are ("photo" or "sketch"), a label only.
    image_key, caption_key, sep: the CSV's column names and separator, as open_clip's flags.
    workers: threads decoding images.
    Returns ImageTextPairs: images (N, 3, image_size, image_size) float32 in [0, 1], N captions,
    split named after the CSV ("captions", "train", "val"). The folder says nothing of shapes or
    colours, so attributes are None and world is None: train() then runs no evaluation unless
    you give it eval_sets, and zero-shot takes labels you choose.
    Raises FolderDataError listing every bad row with its line number.
    """
    path = Path(path)
    csv_path = path / "captions.csv" if path.is_dir() else path
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
    rows, problems = read_captions(csv_path, image_key, caption_key, sep)
    total = len(rows) + len(problems)

    def decode(row):
        try:
            return np.asarray(open_downscaled(row[1], image_size, square=True), dtype=np.uint8)  # (S, S, 3)
        except ValueError as err:
            return f"{os.path.relpath(row[1], csv_path.parent)!r} cannot be read: {err}"

    with ThreadPoolExecutor(max(1, workers)) as pool:  # Pillow releases the GIL while it decodes
        pixels = list(pool.map(decode, rows))
    problems += [(row[0], p) for row, p in zip(rows, pixels) if isinstance(p, str)]
    if problems:
        raise FolderDataError(str(csv_path), sorted(problems), total)
    if not rows:
        raise FolderDataError(str(csv_path), [(2, "no rows under the header; add one row per image")], 0)
    images = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2).float().div_(255)  # (N, 3, S, S) in [0, 1]
    return ImageTextPairs(images.contiguous(), [r[2] for r in rows], [None] * len(rows), csv_path.stem, style)
