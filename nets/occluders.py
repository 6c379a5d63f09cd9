"""Synthetic occluders: what hides part of a face in users' pictures (a face mask, a scarf, a hand, a
microphone), painted where the real thing would sit, from the face's points (WebFaces' four, or 68 iBUG
points). Training faces so covered teach a detector to find a face by its eyes and brows as well; held-out
faces so covered measure how far it does (bench_face.py).

Each occluder is drawn in the face's own frame, so it turns with a tilted head: from the eyes' midpoint,
`a` runs across the face in face box sides (webfaces_box), `b` down it in eye-to-mouth distances (the nose
lies near b = 0.6, the mouth at 1, the chin near 1.6).
"""
import cv2
import numpy as np

from nets.annotations import webfaces_box, webfaces_points

KINDS = ("mask", "scarf", "hand", "microphone")
# (a, b) outlines: a face mask from the bridge of the nose to below the chin; a scarf from under the nose,
# wider than the face; a microphone's handle below its head
MASK = ((-0.47, 0.42), (0.47, 0.42), (0.46, 1.15), (0.3, 1.65), (0.0, 1.78), (-0.3, 1.65), (-0.46, 1.15))
SCARF = ((-0.62, 0.78), (0.62, 0.78), (0.66, 2.3), (-0.66, 2.3))
HANDLE = ((-0.04, 1.1), (0.04, 1.1), (0.05, 2.6), (-0.05, 2.6))
MASK_COLOURS = ((172, 205, 230), (238, 238, 236), (35, 35, 40), (120, 160, 200), (200, 170, 190))


class FaceFrame:
    """Image coordinates of points (a, b) in one face's frame (see the module's docstring)."""

    def __init__(self, points):
        left, right, self.nose, mouth = webfaces_points(points)
        self.eyes, self.side = (left + right) / 2, webfaces_box(webfaces_points(points))[2]
        self.span = max(np.linalg.norm(mouth - self.eyes), 1e-6)
        self.down = (mouth - self.eyes) / self.span
        self.across = np.array([self.down[1], -self.down[0]])

    def __call__(self, ab):
        ab = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
        return self.eyes + ab[:, :1] * self.side * self.across + ab[:, 1:] * self.span * self.down


def occlude(image, faces, rng, kinds=KINDS):
    """A copy of uint8 `image` (H, W, 3) with each face of `faces` ((K, 4, 2) WebFaces points or (K, 68, 2)
    iBUG points) partly covered by an occluder of a kind drawn from `kinds`."""
    out = np.array(image, dtype=np.uint8, copy=True)
    for points in np.asarray(faces, dtype=np.float64).reshape(len(faces), -1, 2):
        kind = kinds[rng.integers(len(kinds))]
        frame = FaceFrame(points)
        shape, texture = PAINTERS[kind](out, frame, rng)
        _paint(out, shape, texture, rng)
    return out


def _mask(image, frame, rng):
    colour = np.array(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], np.float64) * rng.uniform(0.8, 1.1)
    outline = [frame(np.array(MASK) * rng.uniform(0.92, 1.08, 2))]
    # pleats: a shade darker every few rows, as a folded surgical mask shows
    return outline, lambda ys, xs: colour * (1 - 0.08 * (np.sin(ys / max(frame.side, 1) * 40) > 0.6))[..., None]


def _scarf(image, frame, rng):
    first, second = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    angle, period = rng.uniform(0, np.pi), frame.side * rng.uniform(0.08, 0.25)
    outline = [frame(np.array(SCARF) + [0, rng.uniform(-0.1, 0.15)])]

    def stripes(ys, xs):
        phase = (np.cos(angle) * xs + np.sin(angle) * ys) / period
        return np.where((phase % 1 < 0.5)[..., None], first, second)
    return outline, stripes


def _hand(image, frame, rng):
    # the hand takes the colour of the face's own cheek, as a person's hand has their skin
    cheek = np.round(frame([(0.25, 0.75), (-0.25, 0.75)])).astype(int)
    cheek = cheek.clip(0, np.array(image.shape[1::-1]) - 1)
    colour = image[cheek[:, 1], cheek[:, 0]].astype(np.float64).mean(axis=0) * rng.uniform(0.85, 1.1)
    centre = frame((rng.uniform(-0.25, 0.25), rng.uniform(0.95, 1.35)))[0]
    axes = frame.side * np.array([rng.uniform(0.25, 0.35), rng.uniform(0.15, 0.22)])
    turn = np.degrees(np.arctan2(frame.across[1], frame.across[0])) + rng.uniform(-25, 25)
    outline = [cv2.ellipse2Poly(np.round(centre).astype(int), np.maximum(np.round(axes), 1).astype(int),
                                int(turn), 0, 360, 10).astype(np.float64)]
    period = frame.side * 0.07    # the gaps between fingers, across the hand
    return outline, lambda ys, xs: colour * (1 - 0.12 * (np.sin((xs - centre[0]) / period) > 0.85))[..., None]


def _microphone(image, frame, rng):
    a, b = rng.uniform(-0.15, 0.15), rng.uniform(1.0, 1.25)
    head = frame((a, b))[0]
    radius = max(frame.side * rng.uniform(0.11, 0.16), 1)
    outline = [cv2.ellipse2Poly(np.round(head).astype(int), (int(round(radius)),) * 2, 0, 0, 360, 10)
               .astype(np.float64), frame(np.array(HANDLE) + [a, b - 1.1])]
    grey = rng.uniform(20, 90)
    mesh = max(radius / 4, 1)    # the grille's holes
    return outline, lambda ys, xs: np.full(ys.shape + (3,), grey) * (1 + 0.3 * ((xs // mesh + ys // mesh) % 2))[..., None]


PAINTERS = {"mask": _mask, "scarf": _scarf, "hand": _hand, "microphone": _microphone}


def _paint(image, outlines, texture, rng):
    """Fill `outlines` (polygons in image coordinates) on `image` in place with texture(ys, xs) -> RGB, with
    anti-aliased edges and a little noise, as a photographed cloth or hand has."""
    fill = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(fill, [np.round(p * 16).astype(np.int32) for p in outlines], 255, cv2.LINE_AA, shift=4)
    ys, xs = np.nonzero(fill)
    if not len(ys):
        return
    alpha = fill[ys, xs, None] / 255.0
    noise = rng.normal(0, 4, (len(ys), 3))
    colour = np.clip(texture(ys.astype(np.float64), xs.astype(np.float64)) + noise, 0, 255)
    image[ys, xs] = np.round(alpha * colour + (1 - alpha) * image[ys, xs]).astype(np.uint8)
