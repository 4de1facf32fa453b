"""Images from URLs, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support.images import jpeg_bytes, make_photo, make_screenshot, png_bytes

from mcv.core.units import format_bytes
from mcv.errors import InputError
from mcv.core.images.prepare import prepare
from mcv.core.images.sources import parse_image_arg
from mcv.core.images.types import PrepareSettings

PHOTO = jpeg_bytes(make_photo(640, 480, seed=3))
SCREEN = png_bytes(make_screenshot(300, 200))
HTML = b"<!DOCTYPE html><html><body>Not here</body></html>" * 40


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status, body, content_type, *, length=True, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in extra:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if length:
            self.wfile.write(body)
        else:
            for start in range(0, len(body), 4096):
                piece = body[start : start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        route = self.path
        if route == "/photo.jpg":
            self._send(200, PHOTO, "image/jpeg")
        elif route == "/octet":
            self._send(200, SCREEN, "application/octet-stream")
        elif route == "/lying.png":
            self._send(200, HTML, "image/png")
        elif route == "/page.html":
            self._send(200, HTML, "text/html; charset=utf-8")
        elif route == "/chunked.jpg":
            self._send(200, PHOTO, "image/jpeg", length=False)
        elif route == "/gzip.jpg":
            self._send(200, gzip.compress(PHOTO), "image/jpeg", extra=[("Content-Encoding", "gzip")])
        elif route == "/redirect":
            self._send(302, b"", "text/plain", extra=[("Location", "/photo.jpg")])
        elif route == "/loop":
            self._send(302, b"", "text/plain", extra=[("Location", "/loop")])
        elif route == "/error":
            self._send(500, b"boom", "text/plain")
        elif route == "/stall":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self.wfile.write(PHOTO[:100])
            self.wfile.flush()
            time.sleep(3)
        elif route == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(200_000_000))
            self.end_headers()
            self.wfile.write(PHOTO[:100])
            self.wfile.flush()
            time.sleep(3)
        elif route == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            for start in range(0, 8 * 2048, 2048):
                self.wfile.write(PHOTO[start : start + 2048])
                self.wfile.flush()
                time.sleep(0.25)
        else:
            self._send(404, b"no such thing", "text/plain")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up early (cap, timeout tests) are expected


@pytest.fixture(scope="module")
def server():
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def fetch(url, **settings):
    source = parse_image_arg(url)
    assert source is not None and source.kind == "url"
    return prepare(source, PrepareSettings(**settings))


def test_ok(server):
    [image] = fetch(f"{server}/photo.jpg")
    assert image.mime == "image/jpeg"
    assert (image.width, image.height) == (640, 480)
    assert image.label == f"{server}/photo.jpg"


def test_content_type_is_not_trusted(server):
    [image] = fetch(f"{server}/octet")  # a PNG served as octet-stream
    assert (image.source_width, image.source_height) == (300, 200)
    with pytest.raises(InputError) as caught:
        fetch(f"{server}/lying.png")  # HTML served as image/png
    assert str(caught.value) == f"{server}/lying.png: an HTML page, not an image (the server sent image/png)"


def test_html_page(server):
    with pytest.raises(InputError, match=r"an HTML page, not an image \(the server sent text/html\)$"):
        fetch(f"{server}/page.html")


def test_http_errors(server):
    with pytest.raises(InputError) as caught:
        fetch(f"{server}/nothing-here.jpg")
    assert str(caught.value) == f"{server}/nothing-here.jpg: HTTP 404 Not Found"
    assert caught.value.exit_code == 2
    with pytest.raises(InputError, match=r": HTTP 500 Internal Server Error$"):
        fetch(f"{server}/error")


def test_redirects(server):
    [image] = fetch(f"{server}/redirect")
    assert (image.width, image.height) == (640, 480)
    with pytest.raises(InputError, match=r"/loop: more than 5 redirects$"):
        fetch(f"{server}/loop")


def test_over_the_cap_with_content_length(server):
    with pytest.raises(InputError) as caught:
        fetch(f"{server}/photo.jpg", max_input_bytes=10_000)
    assert str(caught.value) == (
        f"{server}/photo.jpg: {format_bytes(len(PHOTO))}, over the 10 KB limit for an image input"
    )


def test_advertised_size_is_refused_before_the_body(server):
    # The server announces 200 MB, sends 100 bytes and stalls: only the header can have decided.
    started = time.monotonic()
    with pytest.raises(InputError, match=r"/huge: 200 MB, over the 100 MB limit for an image input$"):
        fetch(f"{server}/huge")
    assert time.monotonic() - started < 2.5


def test_over_the_cap_while_streaming(server):
    with pytest.raises(InputError, match=r"/chunked\.jpg: larger than the .* limit for an image input$"):
        fetch(f"{server}/chunked.jpg", max_input_bytes=10_000)
    [image] = fetch(f"{server}/chunked.jpg")  # and fine under the cap
    assert image.width == 640


def test_compressed_transfer(server):
    [image] = fetch(f"{server}/gzip.jpg")
    assert image.width == 640


def test_stalled_server_times_out(server):
    started = time.monotonic()
    with pytest.raises(InputError, match=r"/stall: the download timed out$"):
        fetch(f"{server}/stall", download_timeout=0.5)
    assert time.monotonic() - started < 2.5  # the server would have stalled for 3 s


def test_slow_drip_hits_the_total_deadline(server):
    # Each chunk arrives well within the read timeout; the whole exceeds the deadline.
    with pytest.raises(InputError, match=r"/drip: the download timed out$"):
        fetch(f"{server}/drip", download_timeout=0.6)


def test_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InputError, match=rf"^http://127\.0\.0\.1:{port}/x\.jpg: cannot connect"):
        fetch(f"http://127.0.0.1:{port}/x.jpg")


def test_malformed_url():
    with pytest.raises(InputError, match=r"^http://\[::1: "):
        fetch("http://[::1")
