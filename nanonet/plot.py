"""Line charts as PNG, drawn with Pillow: training curves, ROC curves."""
import math

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= count:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def line_chart(path, panels, size=(560, 380)):
    """Draw panels side by side and save a PNG.

    panels: list of dicts {"title", "xlabel", "ylabel", "series": {label: (xs, ys)}, optional "xlim", "ylim",
    and "marks": {label: (x, y)}, a point ringed in that series' colour (an operating point, say)}.
    """
    font = ImageFont.load_default()
    width, height = size
    image = Image.new("RGB", (width * len(panels), height), "white")
    draw = ImageDraw.Draw(image)
    for p, panel in enumerate(panels):
        left, top, right, bottom = p * width + 60, 30, p * width + width - 20, height - 50
        points = [(x, y) for xs, ys in panel["series"].values() for x, y in zip(xs, ys) if y == y]
        if not points:
            continue
        xlo, xhi = panel.get("xlim") or (min(x for x, _ in points), max(x for x, _ in points))
        ylo, yhi = panel.get("ylim") or (min(y for _, y in points), max(y for _, y in points))
        if xhi <= xlo:
            xhi = xlo + 1
        if yhi <= ylo:
            ylo, yhi = ylo - 0.5, yhi + 0.5
        sx = lambda x: left + (x - xlo) / (xhi - xlo) * (right - left)  # noqa: E731
        sy = lambda y: bottom - (y - ylo) / (yhi - ylo) * (bottom - top)  # noqa: E731
        draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))
        for t in _ticks(xlo, xhi):
            draw.line([sx(t), bottom, sx(t), bottom + 4], fill=(0, 0, 0))
            draw.text((sx(t), bottom + 6), f"{t:g}", fill=(0, 0, 0), font=font, anchor="ma")
        for t in _ticks(ylo, yhi):
            draw.line([left - 4, sy(t), left, sy(t)], fill=(0, 0, 0))
            draw.line([left, sy(t), right, sy(t)], fill=(230, 230, 230))
            draw.text((left - 6, sy(t)), f"{t:.4g}", fill=(0, 0, 0), font=font, anchor="rm")
        draw.text(((left + right) / 2, 10), panel.get("title", ""), fill=(0, 0, 0), font=font, anchor="mm")
        draw.text(((left + right) / 2, height - 18), panel.get("xlabel", ""), fill=(0, 0, 0), font=font, anchor="mm")
        draw.text((p * width + 8, top - 14), panel.get("ylabel", ""), fill=(0, 0, 0), font=font)
        key = right - 30 - max(draw.textlength(label, font=font) for label in panel["series"])
        for i, (label, (xs, ys)) in enumerate(panel["series"].items()):
            colour = COLOURS[i % len(COLOURS)]
            line = [(sx(x), sy(y)) for x, y in zip(xs, ys) if y == y and xlo <= x <= xhi and ylo <= y <= yhi]
            if len(line) > 1:
                draw.line(line, fill=colour, width=2)
            for x, y in line:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
            if label in panel.get("marks", {}):
                x, y = panel["marks"][label]
                draw.ellipse([sx(x) - 6, sy(y) - 6, sx(x) + 6, sy(y) + 6], outline=colour, width=2)
            draw.line([key, top + 12 + 14 * i, key + 20, top + 12 + 14 * i], fill=colour, width=2)
            draw.text((key + 24, top + 12 + 14 * i), label, fill=(0, 0, 0), font=font, anchor="lm")
    image.save(path)
