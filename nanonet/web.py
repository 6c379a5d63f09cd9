"""Serving an aiohttp application: in the foreground for a command, or in a thread beside a training or a test.

Pages are single HTML files under nanonet/pages and nets/pages, with their script inline: no build step.
"""
import asyncio
import ssl
import sys
import threading
from pathlib import Path

from aiohttp import web

# Pages run only their own inline script, load nothing from elsewhere and are never framed; the camera is theirs
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src "
                    "'unsafe-inline'; img-src 'self' blob:; media-src 'self' blob: mediastream:",
                    "Permissions-Policy": "camera=(self)"}


def add_page(app, path):
    """Serve the HTML file at `path` (read once) at / of `app`, with no icon (browsers ask for one)."""
    html = Path(path).read_text(encoding="utf-8")

    async def page(request):
        return web.Response(text=html, content_type="text/html", headers=SECURITY_HEADERS)

    async def no_icon(request):
        return web.Response(status=204)
    app.router.add_get("/", page)
    app.router.add_get("/favicon.ico", no_icon)


def ssl_context(certfile, keyfile):
    """An HTTPS context from a certificate and its key (PEM files), or None for plain HTTP."""
    if not certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


CLOSING = web.AppKey("closing", asyncio.Event)


def closing_event(app):
    """An asyncio.Event set when `app` shuts down, so that endless responses (server-sent events) end."""
    if CLOSING not in app:
        app[CLOSING] = asyncio.Event()

        async def on_shutdown(app):
            app[CLOSING].set()
        app.on_shutdown.append(on_shutdown)
    return app[CLOSING]


def serve(app, host, port, prog, context=None, announce=None):
    """Serve `app` until Ctrl-C, announce(url) once it listens; the command's exit status: 0, or 1 (said in
    one line on stderr, `prog` first) where the address cannot be served on."""
    shown = f"[{host}]" if ":" in host else host
    url = f"{'https' if context else 'http'}://{shown}:{port}/"
    try:
        web.run_app(app, host=host, port=port, ssl_context=context, access_log=None, shutdown_timeout=2,
                    print=lambda _: (announce or _announce)(url))
    except OSError as e:
        print(f"{prog}: cannot serve on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def _announce(url):
    print(f"serving on {url} (Ctrl-C stops)", flush=True)


class CannotServe(Exception):
    """An address that cannot be served on (a port in use, a host not of this machine)."""


class Background:
    """Serve `app` from a thread of its own: `with Background(app) as server: server.url ...`.

    port=0 takes a free port. An address that cannot be bound raises CannotServe here, in the caller's thread.
    """

    def __init__(self, app, host="127.0.0.1", port=0, context=None):
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        self.host, self.context, self.error = host, context, None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(port, ready), daemon=True)
        self.thread.start()
        ready.wait()
        if self.error:
            self.thread.join()
            raise CannotServe(f"cannot serve on {host}:{port}: {self.error.strerror or self.error}")
        scheme = "https" if context else "http"
        self.url = f"{scheme}://{host}:{self.port}/"

    def _run(self, port, ready):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, self.host, port, ssl_context=self.context, reuse_address=True)
            self.loop.run_until_complete(site.start())
            self.port = self.runner.addresses[0][1]
        except OSError as e:
            self.error = e
            self.loop.run_until_complete(self.runner.cleanup())
            self.loop.close()
            ready.set()
            return
        ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def close(self):
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
