"""The training monitor and the collection app: their servers over HTTP, and their pages in headless Chromium
(with its fake camera) where Chromium and Playwright can be had."""
import asyncio
import io
import json
import os
import re
import shutil
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image

import nets
from nanonet import monitor, runs
from nanonet.data.image import read_image
from nanonet.web import Background
from nets import collect
from tests.cases import tiny_trainer
from tests.data_files import class_folders, train_py

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["smile", "nosmile"]


def jpeg(size=(64, 48), exif=False):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    out = io.BytesIO()
    metadata = Image.Exif()
    metadata[0x010E] = "a description the server must drop"      # ImageDescription
    image.save(out, "JPEG", exif=metadata if exif else b"")
    return out.getvalue()


def bomb():
    """A PNG of a few kB that would decode to 48 Mpixel."""
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, "PNG")
    return out.getvalue()


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


# --- the monitor ---------------------------------------------------------------------------------------------

def point(epoch, batch, loss):
    return {"epoch": epoch, "batch": batch, "batches": 4, "loss": loss, "lr": 0.1, "images_per_s": 100.0,
            "time": 0.0}


def start_run(folder, points):
    os.makedirs(folder)
    runs.write_info(folder, runs.started_info("tiny", "python train.py --net tiny", 2))
    for p in points:
        runs.append_record(folder, p)


def test_watcher_follows_a_run_growing_truncated_rewritten_and_gone(tmp_path):
    folder = str(tmp_path / "a")
    start_run(folder, [point(1, 2, 0.9)])
    watcher = monitor.Watcher(str(tmp_path))
    (kind, run), = watcher.changes()
    assert kind == "run" and run["name"] == "a" and run["state"] == "running" and len(run["points"]) == 1
    assert "append" not in run and watcher.changes() == []
    with open(os.path.join(folder, runs.METRICS_FILE), "a") as f:     # a point, and the next one half written
        f.write(json.dumps(point(1, 4, 0.8)) + "\n" + json.dumps(point(2, 2, 0.7))[:20])
    (_, run), = watcher.changes()
    assert run["append"] and [p["loss"] for p in run["points"]] == [0.8]
    with open(os.path.join(folder, runs.METRICS_FILE), "a") as f:
        f.write(json.dumps(point(2, 2, 0.7))[20:] + "\n")
    (_, run), = watcher.changes()
    assert run["append"] and [p["loss"] for p in run["points"]] == [0.7]
    runs.rewrite_records(folder, [], (0, 2))                         # a resumed run cuts the file back
    (_, run), = watcher.changes()
    assert "append" not in run and [p["loss"] for p in run["points"]] == [0.9]
    shutil.rmtree(folder)
    assert watcher.changes() == [("gone", {"name": "a"})]


def test_api_runs_lists_a_finished_run_with_its_net_command_and_curves(tmp_path):
    tiny_trainer(tmp_path / "tiny").run()
    with Background(monitor.make_app(str(tmp_path))) as server:
        found = get_json(server.url + "api/runs")
    run, = found["runs"]
    assert found["root"] == str(tmp_path)
    assert (run["name"], run["net"], run["state"], run["epochs"]) == ("tiny", "tiny", "finished", 3)
    assert len(run["points"]) == 9 and [r["epoch"] for r in run["records"]] == [1, 2, 3]
    assert all(np.isfinite(r["val_loss"]) for r in run["records"])


def test_events_stream_sends_the_root_then_each_run(tmp_path):
    start_run(str(tmp_path / "a"), [point(1, 2, 0.9)])
    with Background(monitor.make_app(str(tmp_path))) as server:
        with urllib.request.urlopen(server.url + "events", timeout=10) as stream:
            lines = [stream.readline().decode().strip() for _ in range(6)]
    assert lines[0] == "event: root" and json.loads(lines[1][len("data: "):]) == str(tmp_path)
    assert lines[3] == "event: run" and json.loads(lines[4][len("data: "):])["points"][0]["loss"] == 0.9


def test_monitor_refuses_a_missing_folder_and_a_bad_port(tmp_path, capsys):
    assert monitor.main([str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.strip() == f"monitor: {tmp_path / 'none'}: no such folder"
    with pytest.raises(SystemExit) as exit:
        monitor.main([str(tmp_path), "--port", "70000"])
    assert exit.value.code == 2 and "--port 70000" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert monitor.main([str(tmp_path), "--port", str(port)]) == 1
    assert capsys.readouterr().err.startswith(f"monitor: cannot serve on 127.0.0.1:{port}: ")


# --- the collection app --------------------------------------------------------------------------------------

def upload(url, fields, headers=None):
    """(status, JSON answer) of a multipart POST of `fields` {name: str, bytes or (filename, bytes)}."""
    return asyncio.run(_uploads(url, [fields], headers))[0]


async def _uploads(url, many, headers=None):
    async with aiohttp.ClientSession() as session:
        async def one(fields):
            form = aiohttp.FormData()
            for name, value in fields.items():      # str: a plain field; bytes: a file, as browsers send it
                filename, value = value if isinstance(value, tuple) else ("photo.jpg", value)
                form.add_field(name, value, filename=filename if isinstance(value, bytes) else None)
            async with session.post(url + "upload", data=form, headers=headers or {}) as answer:
                return answer.status, await answer.json()
        return await asyncio.gather(*(one(fields) for fields in many))


def stored(folder):
    """{class: its pictures' names} under a collection folder, the hidden temporary files included."""
    return {c: sorted(os.listdir(folder / c)) for c in sorted(os.listdir(folder))}


@pytest.fixture
def app(tmp_path):
    """A collection server on a free port of 127.0.0.1, uploads of at most 50 kB."""
    store = collect.Store(str(tmp_path / "out"), CLASSES)
    with Background(collect.make_app(store, max_bytes=50_000)) as server:
        yield server.url, tmp_path / "out"


def test_an_upload_is_reencoded_without_metadata_under_a_name_of_the_servers(app):
    url, out = app
    status, answer = upload(url, {"class": "smile", "image": ("../../../mine.jpg", jpeg(exif=True))})
    assert status == 201 and answer["class"] == "smile" and answer["count"] == 1
    assert stored(out) == {"nosmile": [], "smile": [answer["stored"]]}
    assert answer["stored"].endswith(".jpg") and "mine" not in answer["stored"]
    with Image.open(out / "smile" / answer["stored"]) as kept:
        assert kept.format == "JPEG" and kept.size == (64, 48) and not kept.getexif()
    assert get_json(url + "api/classes")["classes"] == [{"name": "smile", "count": 1, "example": None},
                                                         {"name": "nosmile", "count": 0, "example": None}]


@pytest.mark.parametrize("fields, status, says", [
    ({"class": "smile", "image": b"\0" * 60_000}, 413, "above 50000 bytes"),             # past the streamed cap
    ({"class": "smile", "image": b"\0" * 200_000}, 413, "above 50000 bytes"),            # past Content-Length's
    ({"class": "smile", "image": b"hello, not a picture"}, 400, "not an image"),
    ({"class": "smile", "image": jpeg()[:400]}, 400, "truncated"),
    ({"class": "smile", "image": bomb()}, 400, "48 Mpixel, above the limit of 40 Mpixel"),
    ({"class": "frown", "image": jpeg()}, 400, "unknown class 'frown'"),
    ({"class": "../smile", "image": jpeg()}, 400, "unknown class '../smile'"),
    ({"class": "smile/../../x", "image": jpeg()}, 400, "unknown class"),
    ({"image": jpeg()}, 400, "needs the fields class and image"),
    ({"class": "smile", "image": jpeg(), "path": "/etc"}, 400, "unknown or repeated field 'path'"),
])
def test_a_bad_upload_is_refused_and_nothing_is_stored(app, fields, status, says):
    url, out = app
    got, answer = upload(url, fields)
    assert got == status and says in answer["error"]
    assert stored(out) == {"nosmile": [], "smile": []}
    assert not os.path.exists(out.parent / "x") and not os.path.exists(out.parent / "mine.jpg")


def test_a_body_that_is_not_multipart_is_refused(app):
    url, out = app
    request = urllib.request.Request(url + "upload", data=b'{"class": "smile"}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400 and "multipart/form-data" in json.loads(refused.value.read())["error"]


def test_fifty_concurrent_uploads_are_all_kept_under_distinct_names(app):
    url, out = app
    answers = asyncio.run(_uploads(url, [{"class": CLASSES[k % 2], "image": ("same.jpg", jpeg())}
                                         for k in range(50)]))
    assert [status for status, _ in answers] == [201] * 50
    kept = stored(out)
    assert [len(kept[c]) for c in CLASSES] == [25, 25]
    assert sorted(kept["smile"] + kept["nosmile"]) == sorted(a["stored"] for _, a in answers)
    assert get_json(url + "api/classes")["classes"][0]["count"] == 25


def test_an_exposed_server_asks_every_upload_for_its_token(tmp_path):
    store = collect.Store(str(tmp_path), CLASSES)
    with Background(collect.make_app(store, token="s3cret-token")) as server:
        fields = {"class": "smile", "image": jpeg()}
        assert upload(server.url, fields)[0] == 401
        assert upload(server.url, fields, {"Authorization": "Bearer guess-guess"})[0] == 403
        assert upload(server.url, fields, {"Authorization": "Bearer s3cret-token"})[0] == 201
    assert len(os.listdir(tmp_path / "smile")) == 1


def test_an_exposed_server_prints_its_address_with_a_new_token(tmp_path, capsys, monkeypatch):
    served = {}

    def serve(app, host, port, prog, context, announce):
        served.update(host=host, port=port, context=context)
        announce(f"http://{host}:{port}/")
        return 0
    monkeypatch.setattr(collect, "serve", serve)
    assert collect.main(["--out", str(tmp_path), "--classes", "smile,nosmile", "--host", "0.0.0.0"]) == 0
    out, err = capsys.readouterr()
    token = re.search(r"serving on http://0\.0\.0\.0:8801/\?token=([\w-]{16,}) ", out).group(1)
    assert "browsers open the camera only on localhost or over HTTPS" in err
    assert collect.main(["--out", str(tmp_path), "--classes", "smile", "--host", "0.0.0.0"]) == 0
    assert token not in capsys.readouterr().out                        # a new token for each start
    assert collect.main(["--out", str(tmp_path), "--classes", "smile"]) == 0
    assert "token" not in capsys.readouterr().out and served["host"] == "127.0.0.1"


class FakeDetector:
    def __init__(self, boxes):
        self.boxes = np.array(boxes, float).reshape(-1, 4)

    def detect(self, image):
        return self.boxes, np.ones(len(self.boxes))


def test_faces_keeps_the_largest_face_and_refuses_a_picture_without_one(tmp_path):
    store = collect.Store(str(tmp_path), CLASSES)
    cut = collect.FaceCutter(FakeDetector([[2, 3, 10, 10], [20, 10, 30, 24]]))
    with Background(collect.make_app(store, cut=cut)) as server:
        status, answer = upload(server.url, {"class": "smile", "image": jpeg()})
        with Image.open(tmp_path / "smile" / answer["stored"]) as kept:
            assert status == 201 and kept.size == (30, 24)
        cut.detector = FakeDetector([])
        assert upload(server.url, {"class": "smile", "image": jpeg()}) == (422, {"error": "no face found in "
                                                                                          "the picture"})


def test_the_shipped_face_detector_cuts_the_astronauts_face_and_finds_none_in_a_grey_picture():
    cut = collect.FaceCutter(nets.load("face"))
    photo = read_image(ROOT / "examples" / "astronaut.jpg")
    face = cut(photo)
    assert 0.1 * photo.shape[0] < face.shape[0] < 0.6 * photo.shape[0] and face.shape[2] == 3
    with pytest.raises(collect.Refused, match="no face"):
        cut(np.full((240, 320, 3), 128, np.uint8))


def test_examples_come_from_a_folder_of_class_folders(tmp_path):
    for name in CLASSES:
        os.makedirs(tmp_path / "examples" / name)
        (tmp_path / "examples" / name / "b.jpg").write_bytes(jpeg())
    (tmp_path / "examples" / "smile" / "a.png").write_bytes(b"a png")
    examples = collect.class_examples(str(tmp_path / "examples"))
    assert examples == {"nosmile": str(tmp_path / "examples/nosmile/b.jpg"),
                        "smile": str(tmp_path / "examples/smile/a.png")}
    with Background(collect.make_app(collect.Store(str(tmp_path / "out"), list(examples)), examples)) as server:
        assert get_json(server.url + "api/classes")["classes"][1]["example"] == "example/smile"
        with urllib.request.urlopen(server.url + "example/smile", timeout=10) as answer:
            assert answer.read() == b"a png"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "example/..%2f..%2fetc%2fpasswd", timeout=10)
        assert missing.value.code == 404


@pytest.mark.parametrize("argv, says", [
    (["--classes", "smile,../up"], "--classes 'smile,../up': give distinct names"),
    (["--classes", "smile,smile"], "give distinct names"),
    (["--classes", "smile", "--certfile", "cert.pem"], "--certfile and --keyfile go together"),
    (["--classes", "smile", "--port", "0"], "--port 0: must be from 1 to 65535"),
    (["--classes", "smile", "--host", "0.0.0.0", "--token", "short"], "--token: at least 8 characters"),
    (["--examples", "."], "holds no picture"),
])
def test_collect_refuses_nonsense_options_in_one_line(tmp_path, capsys, argv, says, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("empty-class")
    try:
        code = collect.main(["--out", "out"] + argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1


# --- in a browser --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=[
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            "--disable-background-networking", "--disable-component-update"])
        yield browser
        browser.close()


def points_shown(page, run):
    return int(page.get_attribute(f'#runs li[data-run="{run}"]', "data-points"))


def test_monitor_page_shows_a_runs_points_and_gains_new_ones_live(tmp_path, browser):
    folder = str(tmp_path / "a")
    start_run(folder, [point(1, 2, 0.9), point(1, 4, 0.8)])
    with Background(monitor.make_app(str(tmp_path))) as server:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector('#runs li[data-run="a"][data-points="2"][data-state="running"]')
        assert page.get_attribute('svg[data-panel="loss"] path[data-run="a"][data-kind="batches"]',
                                  "data-count") == "2"
        with open(os.path.join(folder, runs.METRICS_FILE), "a") as f:   # one more, and one half written
            f.write(json.dumps(point(2, 2, 0.7)) + "\n" + json.dumps(point(2, 4, 0.6))[:15])
        page.wait_for_selector('#runs li[data-run="a"][data-points="3"]')
        trainer = threading.Thread(target=tiny_trainer(tmp_path / "b").run)
        trainer.start()
        shutil.rmtree(folder)
        page.wait_for_selector('#runs li[data-run="a"]', state="detached")
        trainer.join()
        page.wait_for_selector('#runs li[data-run="b"][data-state="finished"][data-points="9"][data-records="3"]')
        assert page.get_attribute('svg[data-panel="accuracy"] path[data-run="b"][data-kind="validation"]',
                                  "data-count") == "3"
        page.close()


def test_collect_page_takes_a_camera_photo_that_lands_in_its_class_folder(tmp_path, browser):
    store = collect.Store(str(tmp_path), CLASSES)
    with Background(collect.make_app(store)) as server:
        page = browser.new_page()
        page.goto(server.url)
        page.click('#classes button[data-class="nosmile"]')
        page.click("#start")
        page.click("#take:not([disabled])")
        page.wait_for_selector("#shot:not([hidden])")
        page.click("#send:not([disabled])")
        page.wait_for_selector("#status[data-stored]")
        name = page.get_attribute("#status", "data-stored")
        page.wait_for_selector('#classes button[data-class="nosmile"][data-count="1"]')
        page.close()
    assert stored(tmp_path) == {"nosmile": [name], "smile": []}
    with Image.open(tmp_path / "nosmile" / name) as photo:
        assert photo.format == "JPEG" and photo.size[0] > 100


def test_train_py_serves_the_monitor_while_it_trains(tmp_path):
    data = class_folders(tmp_path / "set", per_class=4, size=16)
    result = train_py("--net", "smile", "--data", str(data), "--val", "0.5", "--epochs", "1", "--batch", "4",
                      "--out", str(tmp_path / "runs" / "smile"), "--monitor", "0")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^monitor: http://127\.0\.0\.1:\d+/$", result.stdout, re.M)
    assert runs.read_info(str(tmp_path / "runs" / "smile"))["state"] == "finished"


def test_train_py_refuses_a_monitor_it_cannot_serve(tmp_path):
    data = class_folders(tmp_path / "set", per_class=4, size=16)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = train_py("--net", "smile", "--data", str(data), "--out", str(tmp_path / "run"), "--monitor", str(port))
    assert result.returncode == 2 and result.stderr.startswith(f"train.py: cannot serve on 127.0.0.1:{port}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    fast = train_py("--net", "smile", "--data", str(data), "--fast", "--monitor")
    assert fast.returncode == 2 and "--monitor: --fast writes no run to watch" in fast.stderr
