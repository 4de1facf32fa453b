"""Where the Ollama daemon is: `--host` > `OLLAMA_HOST` > config > default.

Every value is parsed exactly as Ollama's own `envconfig.Host()` does
(ollama/envconfig/config.go, checked against its TestHost table), so
`mcv` and `ollama` always talk to the same daemon:

- quotes and surrounding whitespace are trimmed;
- the scheme is optional (`http`); a missing port is 11434, or 80/443
  when `http://` / `https://` is written out;
- an invalid port falls back to that default port;
- IPv6 works with or without brackets; a path suffix is kept
  (`https://example.com/ollama` -> `https://example.com:443/ollama`);
- the bare name `ollama.com` means `https://ollama.com:443`;
- `0.0.0.0` is NOT rewritten to loopback (only Ollama's app does that);
  connecting to it reaches the local machine on Linux and macOS.

Only the standard library is used: this is on the `mcv ask` hot path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Mapping

DEFAULT_HOST = "http://127.0.0.1:11434"
ENV_VAR = "OLLAMA_HOST"


def resolve_host(
    flag: str | None,
    environ: Mapping[str, str],
    config_host: str | None = None,
) -> str:
    """The daemon's base URL from the first source that names one.

    A source that is empty once quotes and spaces are trimmed counts as not
    set, so `OLLAMA_HOST=` does not hide a host from the config file.
    """
    for value in (flag, environ.get(ENV_VAR), config_host):
        if value is not None and _clean(value):
            return parse_ollama_host(value)
    return parse_ollama_host("")


def parse_ollama_host(value: str) -> str:
    """`envconfig.Host().String()` for an OLLAMA_HOST value."""
    s = _clean(value).strip()
    default_port = "11434"
    scheme, sep, hostport = s.partition("://")
    if not sep:
        scheme, hostport = "http", s
        if s == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = "80"
    elif scheme == "https":
        default_port = "443"

    hostport, _, path = hostport.partition("/")
    split = _split_host_port(hostport)
    if split is None:
        host, port = "127.0.0.1", default_port
        ip = _parse_ip(hostport.strip("[]"))
        if ip is not None:
            host = ip
        elif hostport:
            host = hostport
    else:
        host, port = split

    if not _go_port_ok(port):
        port = default_port

    url = f"{scheme}://{_join_host_port(host, port)}"
    if path:
        url += "/" + _escape_path(path)
    return url


def _clean(value: str) -> str:
    """envconfig.Var: trim whitespace, then quotes."""
    return value.strip().strip("\"'")


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort; None where Go returns an error."""
    last_colon = hostport.rfind(":")
    if last_colon < 0:
        return None
    inner_start, inner_end = 0, 0
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0 or end + 1 != last_colon:
            return None  # missing ']', missing port or too many colons
        host = hostport[1:end]
        inner_start, inner_end = 1, end + 1
    else:
        host = hostport[:last_colon]
        if ":" in host:
            return None  # too many colons
    if "[" in hostport[inner_start:] or "]" in hostport[inner_end:]:
        return None
    return host, hostport[last_colon + 1 :]


def _parse_ip(text: str) -> str | None:
    """Go's net.ParseIP(text).String(), or None if it is not an IP."""
    if "%" in text or not text:
        return None  # Go's ParseIP rejects zones
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)  # Go prints mapped addresses as IPv4
    return str(ip)


def _go_port_ok(port: str) -> bool:
    """strconv.ParseInt(port, 10, 32) succeeds and 0 <= n <= 65535."""
    if not re.fullmatch(r"[+-]?[0-9]+", port):
        return False
    return 0 <= int(port) <= 65535


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_PATH_OK = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
    "$&+,/:;=@"
)


def _escape_path(path: str) -> str:
    """url.URL.EscapedPath for a Path with no RawPath: escape(path, encodePath)."""
    if path == "*":
        return path
    return "".join(
        c if c in _PATH_OK else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in path
    )
