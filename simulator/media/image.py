"""Cover art, regenerated from (seed, title) like the songs, so none is ever stored.

Clients render covers in lists and players, so the file must be a real JPEG of the
size asked for and must survive any title a caller can type.
"""

from __future__ import annotations

import colorsys
import io
import unicodedata
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_MAX_LINES = 3


def _palette(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Three related colours: two for the gradient, one accent."""
    hue = rng.random()
    spread = 0.12 + 0.3 * rng.random()
    out = []
    for h, s, v in ((hue, 0.55 + 0.35 * rng.random(), 0.25 + 0.3 * rng.random()),
                    (hue + spread, 0.5 + 0.4 * rng.random(), 0.6 + 0.35 * rng.random()),
                    (hue + 0.5, 0.4 + 0.4 * rng.random(), 0.8 + 0.2 * rng.random())):
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def _background(rng: np.random.Generator, size: int, palette) -> Image.Image:
    angle = rng.random() * 2 * np.pi
    axis = np.arange(size, dtype=np.float32) / max(1, size - 1)
    t = np.cos(angle) * axis[None, :] + np.sin(angle) * axis[:, None]
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    a, b = (np.asarray(c, dtype=np.float32) for c in palette[:2])
    pixels = a + t[..., None] * (b - a)
    return Image.fromarray(pixels.round().astype(np.uint8), "RGB")


def _shapes(img: Image.Image, rng: np.random.Generator, palette) -> Image.Image:
    size = img.width
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(3 + int(rng.integers(4))):
        colour = palette[int(rng.integers(len(palette)))]
        alpha = 40 + int(rng.integers(70))
        cx, cy = rng.random(2) * size
        r = (0.08 + 0.3 * rng.random()) * size
        box = (cx - r, cy - r, cx + r, cy + r)
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse(box, fill=(*colour, alpha))
        elif kind == 1:
            draw.ellipse(box, outline=(*colour, alpha + 60), width=max(1, size // 64))
        else:
            sides, turn = 3 + int(rng.integers(4)), float(rng.random() * 360)
            draw.regular_polygon((cx, cy, r), sides, rotation=turn, fill=(*colour, alpha))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


# Faces tried for a title, broadest coverage first where installed; Pillow's bundled
# face (Latin only) is always there as the last resort.
_FONT_FILES = ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "NotoSansCJK-Bold.ttc",
               "NotoSansCJK-Regular.ttc", "DroidSansFallbackFull.ttf")
_BUNDLED = ""


@lru_cache(maxsize=1)
def _faces() -> tuple[str, ...]:
    found = []
    for name in _FONT_FILES:
        try:
            found.append(ImageFont.truetype(name, 12).path)
        except OSError:
            pass
    return (*found, _BUNDLED)


@lru_cache(maxsize=128)
def _font(face: str, px: int):
    """A scalable font, or None when Pillow was built without FreeType."""
    try:
        return ImageFont.truetype(face, px) if face else ImageFont.load_default(size=px)
    except (OSError, ImportError, TypeError):
        return None


@lru_cache(maxsize=8192)
def _covers(face: str, ch: str) -> bool:
    """Whether the face has a glyph for ch, judged against its missing-glyph box."""
    if ch.isspace():
        return True
    if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):  # controls, surrogates, unassigned
        return False
    font = _font(face, 24)
    if font is None:
        return False
    try:
        return _glyph(font, ch) != _glyph(font, "\U0010fffd")
    except (UnicodeError, ValueError, OSError):  # e.g. a lone surrogate
        return False


def _glyph(font, ch: str) -> tuple[tuple[int, int], bytes]:
    left, top, right, bottom = font.getbbox(ch)
    im = Image.new("L", (max(1, right - left), max(1, bottom - top)))
    ImageDraw.Draw(im).text((-left, -top), ch, font=font, fill=255)
    return im.size, im.tobytes()


Glyph = tuple[str, str]  # a character and the face that draws it


def _printable(text: str) -> list[Glyph]:
    """The title as characters each paired with a face that can draw it: the face that
    covers most of the title where it can, another installed face where it cannot (a
    Latin face for "Summer", a CJK one for "夏の歌").

    Characters no face has are dropped, after trying their unaccented base letter, and so
    is the separator they leave dangling ("Été — 夏の歌" without a CJK face: "Été").
    """
    faces = sorted(_faces(), key=lambda f: -sum(_covers(f, ch) for ch in text))
    out: list[Glyph] = []
    dropped = False
    for ch in text:
        face = next((f for f in faces if _covers(f, ch)), None)
        if face is not None:
            out.append((ch, face))
            continue
        for base in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(base):
                continue
            face = next((f for f in faces if _covers(f, base)), None)
            if face is not None:
                out.append((base, face))
            else:
                dropped = True
    words = [w for w in _split(out) if w]
    glyphs = [g for i, w in enumerate(words) for g in ([(" ", words[0][0][1])] if i else []) + w]
    if dropped:
        edge = " -\u2013\u2014|:\u00b7,/"
        while glyphs and glyphs[0][0] in edge:
            glyphs.pop(0)
        while glyphs and glyphs[-1][0] in edge:
            glyphs.pop()
    return glyphs


def _split(glyphs: list[Glyph]) -> list[list[Glyph]]:
    words: list[list[Glyph]] = [[]]
    for glyph in glyphs:
        if glyph[0].isspace():
            words.append([])
        else:
            words[-1].append(glyph)
    return words


def _runs(glyphs: list[Glyph]) -> list[tuple[str, str]]:
    """Consecutive characters drawn with the same face, as (face, text)."""
    runs: list[tuple[str, str]] = []
    for ch, face in glyphs:
        if runs and runs[-1][0] == face:
            runs[-1] = (face, runs[-1][1] + ch)
        else:
            runs.append((face, ch))
    return runs


def _length(glyphs: list[Glyph], px: int) -> float:
    return sum(_font(face, px).getlength(text) for face, text in _runs(glyphs))


def _wrap(glyphs: list[Glyph], px: int, width: float) -> list[list[Glyph]]:
    """Greedy word wrap by pixel width; words wider than a line (or unspaced scripts) are split."""
    lines: list[list[Glyph]] = []
    line: list[Glyph] = []
    for word in _split(glyphs):
        candidate = line + [(" ", word[0][1])] + word if line and word else line + word
        if _length(candidate, px) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = []
        for glyph in word:
            if line and _length(line + [glyph], px) > width:
                lines.append(line)
                line = []
            line.append(glyph)
    if line:
        lines.append(line)
    return lines


def _layout(glyphs: list[Glyph], size: int) -> tuple[int, list[list[Glyph]]]:
    """The largest size whose wrapped title fits in three lines, else the smallest, cut short."""
    width = size * 0.84
    sizes = range(max(8, size // 9), max(7, size // 26), -max(1, size // 128))
    px, lines = sizes[0], []
    for px in sizes:
        lines = _wrap(glyphs, px, width)
        if len(lines) <= _MAX_LINES:
            return px, lines
    last = lines[_MAX_LINES - 1]
    dots = [(".", last[-1][1] if last else glyphs[0][1])] * 3
    while last and _length(last + dots, px) > width:
        last = last[:-1]
    while last and last[-1][0] == " ":
        last = last[:-1]
    return px, lines[:_MAX_LINES - 1] + [last + dots]


def _draw_title(img: Image.Image, title: str) -> None:
    text = " ".join(title.split())
    size = img.width
    draw = ImageDraw.Draw(img)
    if _font(_BUNDLED, 12) is None:  # Pillow without FreeType: its bitmap font, Latin-1 only
        line = text.encode("latin-1", "replace").decode("latin-1")[:40]
        if line:
            draw.text((size * 0.08, size * 0.85), line, font=ImageFont.load_default(),
                      fill=(255, 255, 255))
        return
    glyphs = _printable(text)
    if not glyphs:
        return
    px, lines = _layout(glyphs, size)
    stroke = max(1, size // 170)
    line_h = max(_font(face, px).getbbox("Ag")[3] for face in {f for _, f in glyphs}) * 1.2
    y = size * 0.93 - line_h * len(lines)
    for line in lines:
        x = (size - _length(line, px)) / 2
        for face, run in _runs(line):
            font = _font(face, px)
            draw.text((x, y), run, font=font, fill=(255, 255, 255), stroke_width=stroke,
                      stroke_fill=(20, 20, 28))
            x += font.getlength(run)
        y += line_h


def cover_jpeg(seed: int, title: str, size: int = 512) -> bytes:
    """A square JPEG: seeded gradient and shapes, the title across the lower part."""
    if not 16 <= size <= 4096:
        raise ValueError(f"cover size must be 16..4096 pixels, not {size}")
    rng = np.random.default_rng([int(seed) % (1 << 128), 0xC0FE])
    palette = _palette(rng)
    img = _shapes(_background(rng, size, palette), rng, palette)
    _draw_title(img, title)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()
