"""Smielfy, the seed's smile-collection page: visitors make a given expression before their camera and send
the photos they like, which land in the folder of their class to grow a training set.

    python -m nets.collect --out DIR --classes smile,nosmile [--port N] [--faces]
    python -m nets.collect --out DIR --examples EXAMPLES      (EXAMPLES/CLASS/ holds each class's example)

Every upload (POST /upload, multipart fields `class` and `image`, as the page and scripts send them) is
checked before it is kept: at most --max-bytes (413 beyond), a picture that decodes (400 otherwise), of a
configured class (400), with a face when --faces asks for one (422). It is re-encoded as JPEG, which leaves
its metadata behind, and stored atomically as DIR/CLASS/<time>-<random>.jpg: never under a name or a folder
the client chose, never over another picture. The page serves on 127.0.0.1; --host exposes it, and then
every upload must carry the token printed with the address.
"""
import asyncio
import hmac
import io
import ipaddress
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from aiohttp import web
from PIL import Image

from nanonet.cli import Parser
from nanonet.data.image import ImageError, decode_image
from nanonet.web import SECURITY_HEADERS, add_page, serve, ssl_context

PORT = 8801
MAX_BYTES = 8 << 20           # an upload's body: a camera's photo is well under 1 MB as JPEG
MAX_PIXELS = 40_000_000       # a picture decoded: refuses decompression bombs far below MAX_BYTES
JPEG_QUALITY = 92
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")   # safe as a folder name on every system
PICTURES = (".jpg", ".jpeg", ".png", ".gif", ".webp")
PAGE = Path(__file__).with_name("pages") / "collect.html"


class Refused(Exception):
    """An upload refused: `status` is the HTTP status, the message says why in one line."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Store:
    """The collected pictures: DIR/CLASS/ for each configured class, each picture stored atomically."""

    def __init__(self, out, classes):
        self.out, self.classes = out, list(classes)
        for name in self.classes:
            os.makedirs(os.path.join(out, name), exist_ok=True)

    def save(self, name, jpeg):
        """Store `jpeg` (bytes) in the folder of class `name` under a new name of its own; the name."""
        folder = os.path.join(self.out, name)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", suffix=".part", delete=False) as f:
            f.write(jpeg)
            f.flush()
            os.fsync(f.fileno())
        try:
            while True:      # os.link never replaces a file: a taken name (never seen in practice) draws another
                stored = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex}.jpg"
                try:
                    os.link(f.name, os.path.join(folder, stored))
                    return stored
                except FileExistsError:
                    continue
        finally:
            os.unlink(f.name)

    def counts(self):
        """{class: pictures in its folder}, counting every picture there, collected or put there by hand."""
        return {name: sum(1 for e in os.scandir(os.path.join(self.out, name))
                          if e.is_file() and not e.name.startswith(".") and e.name.lower().endswith(PICTURES))
                for name in self.classes}


class FaceCutter:
    """The largest face the face detector finds in a picture, cut out at its box: crops as the expression
    nets read them. One picture at a time: the detector's buffers are not shared between threads."""

    def __init__(self, detector):
        self.detector, self.lock = detector, threading.Lock()

    def __call__(self, image):
        with self.lock:
            boxes, _ = self.detector.detect(image)
        if not len(boxes):
            raise Refused(422, "no face found in the picture")
        x, y, w, h = boxes[int((boxes[:, 2] * boxes[:, 3]).argmax())]
        x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
        return image[y0:max(int(round(y + h)), y0 + 1), x0:max(int(round(x + w)), x0 + 1)]


def clean_jpeg(body, cut=None):
    """The JPEG bytes kept of an upload's `body`: decoded (EXIF orientation applied), cut to its face by
    `cut` where given, and encoded afresh, so that none of the client's bytes or metadata are stored."""
    try:
        image = decode_image(io.BytesIO(body), "the upload", max_pixels=MAX_PIXELS)
    except ImageError as e:
        raise Refused(400, str(e))
    if cut:
        image = cut(image)
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


async def read_upload(request, classes, max_bytes):
    """(class, image bytes) of a multipart upload, refused with 400 or 413 where it is not one."""
    if request.content_length is not None and request.content_length > max_bytes + 64 * 1024:
        raise Refused(413, f"the upload is above {max_bytes} bytes")
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise Refused(400, "the upload must be multipart/form-data with the fields class and image")
    fields = {}
    while True:
        try:
            part = await reader.next()
        except ValueError:
            raise Refused(400, "the upload is not valid multipart/form-data")
        if part is None:
            break
        if part.name not in ("class", "image") or part.name in fields:
            raise Refused(400, f"unknown or repeated field {str(part.name)[:40]!r}: send one class and one image")
        fields[part.name] = await _read_part(part, max_bytes if part.name == "image" else 64)
    if set(fields) != {"class", "image"}:
        raise Refused(400, "the upload needs the fields class and image")
    name = fields["class"].decode("utf-8", "replace")
    if name not in classes:
        raise Refused(400, f"unknown class {name[:64]!r}: one of {', '.join(classes)}")
    return name, fields["image"]


async def _read_part(part, limit):
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise Refused(413 if part.name == "image" else 400, f"the field {part.name} is above {limit} bytes")
    return bytes(data)


def allowed(request, token):
    """None if the request may upload, else Refused: with a token set, it must come as `Bearer TOKEN`."""
    if token is None:
        return None
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer "):
        return Refused(401, "this server asks for its token: open the address it printed, with ?token=")
    if not hmac.compare_digest(given[len("Bearer "):].encode(), token.encode()):
        return Refused(403, "wrong token")
    return None


def make_app(store, examples=None, cut=None, token=None, max_bytes=MAX_BYTES):
    """The collection app over `store`; `examples` {class: picture path}, `cut` a FaceCutter or None."""
    examples = examples or {}
    app = web.Application(client_max_size=max_bytes + 64 * 1024)

    async def classes(request):
        return web.json_response({"classes": [{"name": n, "count": c, "example": f"example/{n}" if n in examples
                                               else None} for n, c in (await asyncio.to_thread(store.counts)).items()],
                                  "faces": cut is not None, "token": token is not None}, headers=SECURITY_HEADERS)

    async def example(request):
        path = examples.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="no example for that class")
        return web.FileResponse(path, headers=SECURITY_HEADERS)

    async def upload(request):
        try:
            refused = allowed(request, token)
            if refused:
                raise refused
            name, body = await read_upload(request, store.classes, max_bytes)
            jpeg = await asyncio.to_thread(clean_jpeg, body, cut)
            stored = await asyncio.to_thread(store.save, name, jpeg)
        except Refused as e:
            return web.json_response({"error": str(e)}, status=e.status, headers=SECURITY_HEADERS)
        counts = await asyncio.to_thread(store.counts)
        return web.json_response({"class": name, "stored": stored, "count": counts[name]}, status=201,
                                 headers=SECURITY_HEADERS)

    add_page(app, PAGE)
    app.router.add_get("/api/classes", classes)
    app.router.add_get("/example/{name}", example)
    app.router.add_post("/upload", upload)
    return app


def class_examples(folder):
    """{class: its example picture} from `folder`/CLASS/ (the first picture by name), for --examples."""
    found = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("."):
            pictures = sorted(p for p in os.listdir(entry.path) if p.lower().endswith(PICTURES))
            if not pictures:
                raise ValueError(f"--examples: {entry.path} holds no picture ({', '.join(PICTURES)})")
            found[entry.name] = os.path.join(entry.path, pictures[0])
    if not found:
        raise ValueError(f"--examples: {folder} holds no class folders")
    return found


def class_names(text):
    names = [n.strip() for n in text.split(",")]
    bad = [n for n in names if not CLASS_NAME.fullmatch(n)]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"--classes {text!r}: give distinct names of letters, digits, - and _, comma-separated")
    return names


def is_loopback(host):
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv):
    p = Parser(prog="python -m nets.collect", description="Serve the page that collects labelled camera photos.")
    p.add_argument("--out", required=True, help="folder the pictures go to, one folder per class")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--classes", help="the classes, comma-separated: smile,nosmile")
    which.add_argument("--examples", metavar="DIR", help="folder of class folders, each holding its example picture")
    p.add_argument("--port", type=int, default=PORT, help="port to serve on")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on; any but the loopback asks uploads for a token")
    p.add_argument("--token", help="the token uploads must carry when exposed (default: a new random one)")
    p.add_argument("--certfile", help="HTTPS certificate (PEM): browsers open the camera only on localhost or HTTPS")
    p.add_argument("--keyfile", help="the certificate's private key (PEM)")
    p.add_argument("--faces", action="store_true", help="keep only the largest face of each picture, refuse one "
                                                        "without a face (the shipped face detector)")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="largest upload accepted")
    args = p.parse_args(argv)
    if not 1 <= args.port <= 65535:
        p.error(f"--port {args.port}: must be from 1 to 65535")
    if args.max_bytes < 1:
        p.error(f"--max-bytes {args.max_bytes}: must be at least 1")
    if bool(args.certfile) != bool(args.keyfile):
        p.error("--certfile and --keyfile go together")
    if args.token is not None and len(args.token) < 8:
        p.error("--token: at least 8 characters")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        examples = class_examples(args.examples) if args.examples else {}
        store = Store(args.out, list(examples) or class_names(args.classes))
        context = ssl_context(args.certfile, args.keyfile)
    except (ValueError, OSError) as e:
        print(f"collect: {e}", file=sys.stderr)
        return 2
    token = None if is_loopback(args.host) else args.token or secrets.token_urlsafe(16)
    cut = None
    if args.faces:
        import nets
        cut = FaceCutter(nets.load("face"))
    if not (context or is_loopback(args.host)):
        print("collect: warning: browsers open the camera only on localhost or over HTTPS (--certfile)",
              file=sys.stderr)

    def announce(url):
        print(f"collecting {', '.join(store.classes)} into {os.path.abspath(args.out)}", flush=True)
        print(f"serving on {url}" + (f"?token={token}" if token else "") + " (Ctrl-C stops)", flush=True)
    return serve(make_app(store, examples, cut, token, args.max_bytes), args.host, args.port, "collect", context,
                 announce)


if __name__ == "__main__":
    sys.exit(main())
