"""Detect faces in images: python detect.py IMAGE... [--model face|anime] [--gpu N]."""
import argparse
import sys

from nanonet.backend import BackendError, use_device
from nanonet.data.image import ImageError, read_image

MODELS = ("face", "anime")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--model", choices=MODELS, default="face",
                        help="face: the CNN cascade for photos; anime: FrgNet64 for anime faces")
    parser.add_argument("--gpu", type=int, default=-1, metavar="N", help="GPU number, -1 for the CPU (default)")
    args = parser.parse_args(argv)
    try:
        use_device(args.gpu)
        for path in args.images:
            image = read_image(path)
            print(f"{path}: {image.shape[1]}x{image.shape[0]} image read")
    except (BackendError, ImageError) as e:
        print(f"detect.py: {e}", file=sys.stderr)
        return 2
    print(f"detect.py: no trained '{args.model}' detector is shipped yet, so nothing was detected; "
          "the framework it will run on is in place (see README.md)", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
