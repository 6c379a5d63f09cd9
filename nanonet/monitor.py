"""A live monitor of training runs in the browser: python -m nanonet.monitor RUNS_DIR [--port N] [--host H]

The page lists every run under RUNS_DIR (each folder holding a run.json or a metrics.jsonl, as the Trainer
writes them; see nanonet.runs) with its net, command and state, and draws its curves: loss, accuracy, learning
rate and images per second, per epoch and every few batches. Server-sent events at /events bring each new
point as the Trainer appends it, so the page never reloads; /api/runs gives the same data as JSON for scripts.
"""
import asyncio
import json
import os
import sys
from pathlib import Path

from aiohttp import web

from nanonet import runs
from nanonet.cli import Parser
from nanonet.web import SECURITY_HEADERS, add_page, closing_event, serve

PORT = 8800
POLL_SECONDS = 0.5
PAGE = Path(__file__).with_name("pages") / "monitor.html"


def _stat(path):
    try:
        s = os.stat(path)
        return s.st_ino, s.st_size, s.st_mtime_ns
    except OSError:
        return None


class Watcher:
    """What changed under `root` since the last look, as events for the page.

    ("run", run) for a run new, rewritten (a resumed run replaces its metrics.jsonl) or changed in state, with
    all its records; ("run", run with "append": True) for a run whose metrics.jsonl grew, with the new records
    only; ("gone", {"name"}) for a run whose folder disappeared.
    """

    def __init__(self, root):
        self.root, self.seen = root, {}     # folder -> (metrics.jsonl's stat, run.json's, state, points, records)

    def changes(self):
        events, folders = [], runs.find_runs(self.root)
        for folder in folders:
            metrics, info = _stat(os.path.join(folder, runs.METRICS_FILE)), _stat(os.path.join(folder, runs.RUN_FILE))
            state = runs.state_of(runs.read_info(folder))
            old = self.seen.get(folder)
            if old and old[:3] == (metrics, info, state):
                continue
            run = runs.read_run(self.root, folder)
            grown = old and old[0] and metrics and old[0][0] == metrics[0] and old[0][1] <= metrics[1]
            if grown:
                run = {**run, "append": True, "points": run["points"][old[3]:], "records": run["records"][old[4]:]}
                counts = old[3] + len(run["points"]), old[4] + len(run["records"])
            else:
                counts = len(run["points"]), len(run["records"])
            self.seen[folder] = (metrics, info, state) + counts
            events.append(("run", run))
        for folder in set(self.seen) - set(folders):
            del self.seen[folder]
            events.append(("gone", {"name": runs.name_of(self.root, folder)}))
        return events


def make_app(root):
    """The monitor of the runs under `root`."""
    app = web.Application()
    root = os.path.abspath(root)
    closing = closing_event(app)

    async def api_runs(request):
        found = await asyncio.to_thread(lambda: [runs.read_run(root, f) for f in runs.find_runs(root)])
        return web.json_response({"root": root, "runs": found}, headers=SECURITY_HEADERS)

    async def events(request):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               **SECURITY_HEADERS})
        await response.prepare(request)
        watcher = Watcher(root)
        await response.write(f"event: root\ndata: {json.dumps(root)}\n\n".encode())
        while not closing.is_set():
            for kind, data in await asyncio.to_thread(watcher.changes):
                await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
            try:
                await asyncio.wait_for(closing.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
        return response

    add_page(app, PAGE)
    app.router.add_get("/api/runs", api_runs)
    app.router.add_get("/events", events)
    return app


def main(argv=None):
    p = Parser(prog="python -m nanonet.monitor", description="Serve a live monitor of the training runs in a folder.")
    p.add_argument("runs", metavar="RUNS_DIR", help="the folder of training runs (train.py writes runs/NET)")
    p.add_argument("--port", type=int, default=PORT, help="the port to serve on")
    p.add_argument("--host", default="127.0.0.1", help="the address to serve on; 0.0.0.0 shows the runs to all")
    args = p.parse_args(argv)
    if not 1 <= args.port <= 65535:
        p.error(f"--port {args.port}: must be from 1 to 65535")
    if not os.path.isdir(args.runs):
        print(f"monitor: {args.runs}: no such folder", file=sys.stderr)
        return 2
    return serve(make_app(args.runs), args.host, args.port, "monitor")


if __name__ == "__main__":
    sys.exit(main())
