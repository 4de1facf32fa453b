"""Download an image from an http(s) URL: streamed, capped, sniffed, with clear failures.

The Content-Type header is only used to word an error; whether the body is an
image is decided by its first bytes, and the download stops as soon as they
show it is not one.
"""

from __future__ import annotations

import time

from mcv.errors import InputError, first_line
from mcv.core.images.sniff import SNIFF_BYTES, describe_non_image, sniff
from mcv.core.images.sources import too_big

MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0  # between two chunks; the whole download has `total_timeout`


def download(url: str, label: str, limit: int, *, total_timeout: float = 60.0) -> bytes:
    """The body at `url`; InputError on HTTP errors, non-images, timeouts or more than `limit` bytes."""
    import httpx

    from mcv import __version__

    timeout = httpx.Timeout(min(READ_TIMEOUT, total_timeout), connect=min(CONNECT_TIMEOUT, total_timeout))
    headers = {
        "User-Agent": f"mcv/{__version__}",
        "Accept": "image/*, application/pdf;q=0.9, */*;q=0.5",
    }
    try:
        client = httpx.Client(follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=timeout, headers=headers)
        with client, client.stream("GET", url) as response:
            _check_status(response, label)
            return _read_body(response, label, limit, deadline=time.monotonic() + total_timeout)
    except httpx.TimeoutException:
        raise InputError(f"{label}: the download timed out") from None
    except httpx.TooManyRedirects:
        raise InputError(f"{label}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.ConnectError as err:
        raise InputError(f"{label}: cannot connect ({first_line(err)})") from None
    except httpx.UnsupportedProtocol as err:
        raise InputError(f"{label}: unsupported address ({first_line(err)})") from None
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as err:
        raise InputError(f"{label}: download failed ({first_line(err)})") from None


def _check_status(response, label: str) -> None:
    if response.status_code >= 400:
        reason = response.reason_phrase or "error"
        raise InputError(f"{label}: HTTP {response.status_code} {reason}")
    if response.status_code >= 300:  # a redirect without a usable Location
        raise InputError(f"{label}: HTTP {response.status_code} redirect without a target")


def _read_body(response, label: str, limit: int, *, deadline: float) -> bytes:
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big(label, limit, size=int(length))
    body = bytearray()
    checked = False
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise too_big(label, limit)
        if time.monotonic() > deadline:
            raise InputError(f"{label}: the download timed out")
        if not checked and len(body) >= SNIFF_BYTES:
            _check_is_image(bytes(body), response, label)
            checked = True
    if not checked:
        _check_is_image(bytes(body), response, label)
    return bytes(body)


def _check_is_image(data: bytes, response, label: str) -> None:
    if sniff(data) is None:
        content_type = response.headers.get("content-type", "no content type").split(";")[0].strip()
        raise InputError(f"{label}: {describe_non_image(data)} (the server sent {content_type})")
