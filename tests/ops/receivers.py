"""Local alert receivers for tests: a JSON webhook and an SMTP sink on 127.0.0.1.

Real servers on real sockets (no mocks); each runs in a daemon thread, serves until the context
manager exits, and bounds every wait so a broken client cannot hang the test session.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SOCKET_TIMEOUT_S = 10


@dataclass
class Inbox:
    """What a receiver got; ``wait_for`` polls with a deadline (callbacks may be async)."""

    items: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Any) -> None:
        with self.lock:
            self.items.append(item)

    def snapshot(self) -> list[Any]:
        with self.lock:
            return list(self.items)

    def wait_for(self, predicate: Callable[[Any], bool], timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for item in self.snapshot():
                if predicate(item):
                    return item
            time.sleep(0.05)
        raise AssertionError(f"nothing matching arrived within {timeout_s}s; got {self.snapshot()}")


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    return thread


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, Inbox]]:
    """(url, inbox): every POSTed JSON body lands in the inbox; answers ``status``."""
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        timeout = SOCKET_TIMEOUT_S

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 1_000_000))
            inbox.add(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(raw),
                }
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = _serve(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/fleet?token=secret", inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def smtp_sink() -> Iterator[tuple[int, Inbox]]:
    """(port, inbox): a minimal SMTP server (no TLS, no auth) keeping each message parsed.

    Enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP,
    QUIT. aiosmtpd is not installed, hence this.
    """
    inbox = Inbox()

    class Handler(socketserver.StreamRequestHandler):
        timeout = SOCKET_TIMEOUT_S

        def reply(self, text: str) -> None:
            self.wfile.write(text.encode("ascii") + b"\r\n")
            self.wfile.flush()

        def handle(self) -> None:
            self.reply("220 fleet-test-sink ESMTP")
            sender, recipients = None, []
            while True:
                line = self.rfile.readline(65536)
                if not line:
                    return
                command = line.decode("utf-8", "replace").strip()
                verb = command[:4].upper()
                if verb == "EHLO":
                    self.reply("250-fleet-test-sink\r\n250-8BITMIME\r\n250 SIZE 10485760")
                elif verb == "HELO":
                    self.reply("250 fleet-test-sink")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    data = bytearray()
                    while True:
                        chunk = self.rfile.readline(65536)
                        if not chunk or chunk in (b".\r\n", b".\n"):
                            break
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    message: EmailMessage = message_from_bytes(  # type: ignore[assignment]
                        bytes(data), policy=policy.default
                    )
                    inbox.add({"from": sender, "to": recipients, "message": message})
                    self.reply("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    self.reply("250 OK")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 command not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = _serve(server)
    try:
        yield server.server_address[1], inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def email_text(message: EmailMessage) -> str:
    """Every text part of a message, decoded, joined (for assertions)."""
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)
