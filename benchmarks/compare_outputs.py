"""The shipped detectors' outputs at their defaults, here against another commit: every held-out WebFaces image
(the face cascade) and composed anime scenes of held-out crops (the anime detector) must give the same boxes
(within 0.5 px) and scores (within 1e-4). For refactorings that must not change what the detectors find.

    python benchmarks/compare_outputs.py REF [--images N] [--scenes 200]

REF is checked out as a git worktree beside this repository (so that ../shared/data is found from it too),
each checkout writes its outputs in a process of its own, and the differences are listed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOX_PX, SCORE = 0.5, 1e-4


def outputs(root, path, images, scenes):
    """Write {name: (K, 5) boxes and scores} of both detectors, run from checkout `root`, to `path`."""
    code = f"""
import os, sys
sys.path.insert(0, {root!r})
import numpy as np
import nets
from benchmarks.common import webfaces_validation
from nanonet.data.datasets import open_dataset, split_by_name
from nanonet.data.image import read_image
from nets.registry import NETS
from nets.scenes import compose_scenes
out = {{}}
face = nets.load("face")
for a in webfaces_validation()[:{images}]:
    boxes, scores = face.detect(read_image(a.path))
    out["face:" + os.path.basename(a.path)] = np.hstack([boxes, scores[:, None]])
_, val = split_by_name(open_dataset(NETS["frg64s"].data), 0.1)
anime = nets.load("anime")
for k, (image, _) in enumerate(compose_scenes(val, {scenes}, np.random.default_rng(7))):
    boxes, scores = anime.detect(image)
    out[f"anime:{{k}}"] = np.hstack([boxes, scores[:, None]])
np.savez({path!r}, **out)
"""
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def differences(old, new):
    """Lines naming each image whose detections differ beyond BOX_PX or SCORE."""
    lines = []
    for name in sorted(set(old.files) | set(new.files)):
        a, b = old.get(name), new.get(name)
        if a is None or b is None or a.shape != b.shape:
            lines.append(f"{name}: {0 if a is None else len(a)} detections, now {0 if b is None else len(b)}")
        elif a.size and (np.abs(a[:, :4] - b[:, :4]).max() > BOX_PX or np.abs(a[:, 4] - b[:, 4]).max() > SCORE):
            lines.append(f"{name}: boxes differ by up to {np.abs(a[:, :4] - b[:, :4]).max():.3g} px, scores by "
                         f"{np.abs(a[:, 4] - b[:, 4]).max():.3g}")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ref", help="the commit to compare with")
    p.add_argument("--images", type=int, help="the first N held-out WebFaces images (default: all 613)")
    p.add_argument("--scenes", type=int, default=200, help="composed anime scenes")
    args = p.parse_args(argv)
    other = os.path.join(os.path.dirname(ROOT), f"{os.path.basename(ROOT)}-{args.ref[:12]}")
    subprocess.run(["git", "worktree", "add", "--detach", other, args.ref], cwd=ROOT, check=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            paths = [os.path.join(folder, "old.npz"), os.path.join(folder, "new.npz")]
            for root, path in zip((other, ROOT), paths):
                outputs(root, path, args.images if args.images else 10 ** 6, args.scenes)
            old, new = (np.load(path) for path in paths)
            lines = differences(old, new)
            count = sum(len(old[name]) for name in old.files)
            print(f"{len(old.files)} images and scenes, {count} detections at {args.ref}: "
                  + (f"{len(lines)} differ" if lines else "all the same"))
            print("\n".join(lines))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", other], cwd=ROOT, check=True)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
