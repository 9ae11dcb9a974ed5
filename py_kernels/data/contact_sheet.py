"""A PNG grid of sample images with each label written under it, for eyeballing a dataset."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import KernelInputError
from .atomic import atomic_write

_SCALE = 2  # 28/32 px digits are too small to judge at 1:1
_LABEL_H = 14
_PAD = 4


def draw_contact_sheet(images: np.ndarray, labels: Sequence[int], out_png: str) -> None:
    """Writes images (n, H, W) or (n, H, W, 3) uint8 as a near-square grid, labels below, atomically to out_png."""
    n = len(images)
    if n == 0 or n != len(labels):
        raise KernelInputError(f"contact sheet needs at least one image and one label per image, got {n} images "
                               f"and {len(labels)} labels.")
    h, w = images.shape[1] * _SCALE, images.shape[2] * _SCALE
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell_w, cell_h = w + _PAD, h + _LABEL_H + _PAD
    sheet = Image.new("RGB", (cols * cell_w + _PAD, rows * cell_h + _PAD), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (image, label) in enumerate(zip(images, labels)):
        x0 = _PAD + (i % cols) * cell_w
        y0 = _PAD + (i // cols) * cell_h
        tile = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")  # uint8 (H,W) -> L, (H,W,3) -> RGB
        sheet.paste(tile.resize((w, h), Image.NEAREST), (x0, y0))
        text = str(int(label))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        draw.text((x0 + (w - (right - left)) // 2, y0 + h + 1), text, fill="black", font=font)
    with atomic_write(out_png) as f:
        sheet.save(f, format="PNG")
