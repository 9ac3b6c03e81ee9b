"""A minimal headless-Chromium driver over the Chrome DevTools Protocol (no Selenium).

Serves a directory on 127.0.0.1, opens pages in Chromium, collects JavaScript exceptions,
console errors, failed or off-host requests, checks that every plotly chart rendered,
and takes full-page screenshots.
"""

from __future__ import annotations

import base64
import functools
import http.server
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SCRIPT = REPO / "scripts" / "install-chromium.sh"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
]
VIEWPORT = {"width": 1366, "height": 768}  # a common laptop screen

#: evaluated in the page: charts found, initialised by plotly, drawn (svg.main-svg), traces
_CHART_STATE = """(() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return JSON.stringify({
    title: document.title,
    chart_divs: divs.length,
    plots: plots.length,
    rendered: plots.filter(p => p.querySelector('svg.main-svg')).length,
    with_traces: plots.filter(p => (p._fullData || []).length > 0).length,
    empty_notes: document.querySelectorAll('.empty').length,
    plotly: typeof window.Plotly,
    body_text: document.body ? document.body.innerText.length : 0,
  });
})()"""


def ensure_chromium() -> tuple[Path | None, str]:
    """Chromium's path, installing it with scripts/install-chromium.sh when missing."""
    if CHROMIUM.exists():
        return CHROMIUM, "present"
    found = shutil.which("chromium")
    if found:
        return Path(found), "on PATH"
    try:
        proc = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"install script did not run: {exc}"
    if proc.returncode != 0 or not CHROMIUM.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return None, f"install-chromium.sh exited {proc.returncode}: {' | '.join(tail)}"
    return CHROMIUM, "installed"


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """An HTTP server for ``directory`` on 127.0.0.1 (free port) in a thread; yields its URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class PageResult:
    url: str
    state: dict
    errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None


class Browser:
    """One headless Chromium process and a CDP websocket to it (flat sessions per page)."""

    def __init__(self, binary: Path) -> None:
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="fleet-chromium-")
        # Chromium's own log goes to a file: a pipe nobody reads could fill up and block it
        self._log = Path(self._profile) / "chromium.log"
        with self._log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(binary), *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # its own process group, ended by its id on close
            )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self._log.read_text(errors="replace")[-2000:]
                self.close()
                raise RuntimeError(f"Chromium did not start (exit {self.proc.returncode}): {err}")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=15)
        self._ids = itertools.count(1)
        self.events: list[dict] = []

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        # the whole process group this Browser started (renderers, zygote), by its id
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- protocol ------------------------------------------------------------------

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict:
        msg_id = next(self._ids)
        msg: dict = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout} s")
            data = json.loads(self.ws.recv(timeout=left))
            if data.get("id") == msg_id:
                if "error" in data:
                    raise RuntimeError(f"{method} failed: {data['error']}")
                return data.get("result", {})
            if "method" in data:
                self.events.append(data)

    def wait_event(self, method: str, session: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if ev["method"] == method and ev.get("sessionId") == session:
                    return ev
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method} not received within {timeout} s")
            try:
                data = json.loads(self.ws.recv(timeout=min(left, 1)))
            except TimeoutError:
                continue
            if "method" in data:
                self.events.append(data)

    # -- pages ---------------------------------------------------------------------

    @contextmanager
    def page(self, url: str, timeout: float = 30) -> Iterator[str]:
        """A new tab on ``url`` with events on, loaded; yields its CDP session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=session)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            self.send("Page.navigate", {"url": url}, session=session)
            self.wait_event("Page.loadEventFired", session, timeout)
            yield session
        finally:
            self.send("Target.closeTarget", {"targetId": target})

    def evaluate(self, expression: str, session: str):
        """Value of a JavaScript expression in the page (JSON strings decoded)."""
        return self._evaluate(expression, session)

    def check_page(
        self, url: str, allowed_prefix: str, screenshot: Path | None, timeout: float = 30
    ) -> PageResult:
        """Open ``url``; wait for load and for every chart to draw; collect problems."""
        first_event = len(self.events)
        with self.page(url, timeout) as session:
            deadline = time.monotonic() + timeout
            while True:
                state = self._evaluate(_CHART_STATE, session)
                done = state["rendered"] == state["plots"] == state["chart_divs"]
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(0.3)  # let late console messages and transitions arrive
            self._evaluate("1", session)  # drain pending events
            result = PageResult(url=url, state=state)
            if screenshot is not None:
                result.screenshot = self._screenshot(session, screenshot)
            self._collect(result, session, first_event, allowed_prefix)
            return result

    def _evaluate(self, expression: str, session: str):
        res = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
        )
        value = res.get("result", {}).get("value")
        return json.loads(value) if isinstance(value, str) and value.startswith("{") else value

    def _screenshot(self, session: str, path: Path, max_h: int = 16000) -> Path:
        """Full-page PNG at ``path``; a page taller than Chromium's limit continues in
        ``<name>-2.png``, ``<name>-3.png``..."""
        metrics = self.send("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = int(size["height"]) + 1
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{path.stem}-*.png"):
            stale.unlink()
        for part, top in enumerate(range(0, height, max_h), start=1):
            clip = {
                "x": 0,
                "y": top,
                "width": VIEWPORT["width"],
                "height": min(max_h, height - top),
                "scale": 1,
            }
            shot = self.send(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "clip": clip},
                session=session,
                timeout=60,
            )
            target = path if part == 1 else path.with_name(f"{path.stem}-{part}.png")
            target.write_bytes(base64.b64decode(shot["data"]))
        return path

    def _collect(self, result: PageResult, session: str, first: int, allowed: str) -> None:
        for ev in self.events[first:]:
            if ev.get("sessionId") != session:
                continue
            method, p = ev["method"], ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                text = d.get("exception", {}).get("description") or d.get("text")
                result.errors.append(f"exception: {text}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                result.errors.append(f"console.{p['type']}: {args}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                result.errors.append(f"log: {e.get('text')} {e.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                req_url = p.get("request", {}).get("url", "")
                if not req_url.startswith((allowed, "data:", "blob:", "about:")):
                    result.foreign_requests.append(req_url)
            elif method == "Network.loadingFailed":
                result.failed_requests.append(f"{p.get('errorText')} ({p.get('requestId')})")
            elif method == "Network.responseReceived":
                status = p.get("response", {}).get("status", 200)
                if status >= 400:
                    result.failed_requests.append(f"HTTP {status} {p['response'].get('url')}")
