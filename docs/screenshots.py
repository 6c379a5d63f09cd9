"""The README's screenshots of the two web pages, taken in headless Chromium with its fake camera:

    python docs/screenshots.py RUNS_DIR       writes docs/monitor.png and docs/collect.png

RUNS_DIR holds the runs the monitor shows (train.py writes runs/NET). The collection page collects into a
temporary folder, with a drawn emoji as each class's example, and is shown with a photo taken.
"""
import os
import shutil
import sys
import tempfile

from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

from nanonet import monitor
from nanonet.web import Background
from nets import collect

DOCS = os.path.dirname(os.path.abspath(__file__))


def emoji(path, smiling):
    """A yellow face, smiling or straight-mouthed, as a class's example picture."""
    image = Image.new("RGB", (240, 240), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 220, 220), fill="#fdd835", outline="#f9a825", width=4)
    for x in (85, 155):
        draw.ellipse((x - 12, 80, x + 12, 110), fill="#4e342e")
    if smiling:
        draw.arc((65, 100, 175, 180), 20, 160, fill="#4e342e", width=8)
    else:
        draw.line((80, 160, 160, 160), fill="#4e342e", width=8)
    image.save(path)


def main(runs_dir):
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots: no chromium on PATH (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=[
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        with Background(monitor.make_app(runs_dir)) as server:
            page = browser.new_page(viewport={"width": 1400, "height": 760})
            page.goto(server.url)
            page.wait_for_selector("#runs li[data-run]")
            page.wait_for_timeout(500)
            page.screenshot(path=os.path.join(DOCS, "monitor.png"))
        for name, smiling in (("smile", True), ("nosmile", False)):
            os.makedirs(os.path.join(tmp, "examples", name))
            emoji(os.path.join(tmp, "examples", name, "example.png"), smiling)
        examples = collect.class_examples(os.path.join(tmp, "examples"))
        store = collect.Store(os.path.join(tmp, "out"), ["smile", "nosmile"])
        with Background(collect.make_app(store, examples)) as server:
            page = browser.new_page(viewport={"width": 1000, "height": 440})
            page.goto(server.url)
            page.click('#classes button[data-class="smile"]')
            page.click("#start")
            page.click("#take:not([disabled])")
            page.wait_for_selector("#shot:not([hidden])")
            page.screenshot(path=os.path.join(DOCS, "collect.png"))
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
