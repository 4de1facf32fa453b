"""A Windows shell link (.lnk) with a hotkey, as bytes ([MS-SHLLINK]), so the Start-menu shortcut
is a plain file mcv owns (written and removed like any other, testable anywhere).

Layout: the 76-byte header (CLSID 00021401-..., flags, ShowCommand, HotKey), a LinkInfo
with the target as a local path (ANSI and Unicode), the command-line arguments and a
description as counted UTF-16 strings, the same target in an EnvironmentVariableDataBlock
(which the shell reads first when it is there), and the terminal block. No item-ID list:
the shell resolves the target from the path. Windows reads the HotKey of shortcuts in the
Start menu and on the desktop: its modifiers are Shift, Ctrl and Alt (no Windows key).
"""

from __future__ import annotations

import struct

LINK_CLSID = bytes.fromhex("0114020000000000c000000000000046")
HAS_LINK_INFO, HAS_NAME, HAS_ARGUMENTS, IS_UNICODE, HAS_EXP_STRING = 0x02, 0x04, 0x20, 0x80, 0x200
SW_SHOWMINNOACTIVE = 7  # mcv snap is a console program: its window starts minimised
HOTKEYF_SHIFT, HOTKEYF_CONTROL, HOTKEYF_ALT = 0x01, 0x02, 0x04
_ENV_BLOCK_SIGNATURE = 0xA0000001


def hotkey(modifiers: frozenset[str], key: str) -> int:
    """The HotKey field: low byte the virtual-key code, high byte the modifiers."""
    if "super" in modifiers:
        raise ValueError("Windows shortcut keys cannot use the Windows key")
    if len(key) == 1 and key.isalnum():
        code = ord(key.upper())
    elif key.startswith("F") and key[1:].isdigit():
        code = 0x70 + int(key[1:]) - 1  # VK_F1 = 0x70
    else:
        raise ValueError(f"{key} cannot be a Windows shortcut key")
    flags = {"shift": HOTKEYF_SHIFT, "control": HOTKEYF_CONTROL, "alt": HOTKEYF_ALT}
    return code | sum(flags[name] for name in modifiers) << 8


def _counted(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def _link_info(target: str) -> bytes:
    volume = struct.pack("<IIII", 0x11, 3, 0, 0x10) + b"\0"  # size, DRIVE_FIXED, serial, label offset; empty label
    ansi = target.encode("ascii", "replace") + b"\0"
    unicode_path = target.encode("utf-16-le") + b"\0\0"
    header = 0x24  # with the Unicode offsets
    volume_at = header
    ansi_at = volume_at + len(volume)
    suffix_at = ansi_at + len(ansi)
    unicode_at = suffix_at + 1
    unicode_suffix_at = unicode_at + len(unicode_path)
    size = unicode_suffix_at + 2
    fields = struct.pack("<IIIIIIIII", size, header, 0x01, volume_at, ansi_at, 0, suffix_at, unicode_at, unicode_suffix_at)
    return fields + volume + ansi + b"\0" + unicode_path + b"\0\0"


def _environment_block(target: str) -> bytes:
    ansi = target.encode("ascii", "replace")[:259].ljust(260, b"\0")
    wide = target.encode("utf-16-le")[: 259 * 2].ljust(520, b"\0")
    return struct.pack("<II", 0x314, _ENV_BLOCK_SIGNATURE) + ansi + wide


def shell_link(target: str, arguments: str, description: str, hotkey_value: int) -> bytes:
    flags = HAS_LINK_INFO | HAS_NAME | HAS_ARGUMENTS | IS_UNICODE | HAS_EXP_STRING
    header = struct.pack(
        "<I16sIIQQQIiIHHII", 0x4C, LINK_CLSID, flags, 0, 0, 0, 0, 0, 0, SW_SHOWMINNOACTIVE, hotkey_value, 0, 0, 0
    )
    assert len(header) == 0x4C
    strings = _counted(description) + _counted(arguments)  # NAME_STRING, then COMMAND_LINE_ARGUMENTS
    return header + _link_info(target) + strings + _environment_block(target) + struct.pack("<I", 0)


def read_link(data: bytes) -> dict:
    """Parse what shell_link writes (tests, `status`): target, arguments, description, hotkey."""
    (flags,) = struct.unpack_from("<I", data, 0x14)
    (hotkey_value,) = struct.unpack_from("<H", data, 0x40)
    offset = 0x4C
    target = None
    if flags & HAS_LINK_INFO:
        size, header = struct.unpack_from("<II", data, offset)
        unicode_at = struct.unpack_from("<I", data, offset + 0x1C)[0] if header >= 0x24 else None
        if unicode_at is not None:
            end = data.index(b"\0\0", offset + unicode_at)
            while (end - offset - unicode_at) % 2:
                end = data.index(b"\0\0", end + 1)
            target = data[offset + unicode_at : end].decode("utf-16-le")
        offset += size
    strings = {}
    for flag in (HAS_NAME, 0x08, 0x10, HAS_ARGUMENTS, 0x40):  # StringData, in the spec's order
        if flags & flag:
            (count,) = struct.unpack_from("<H", data, offset)
            strings[flag] = data[offset + 2 : offset + 2 + count * 2].decode("utf-16-le")
            offset += 2 + count * 2
    return {"target": target, "arguments": strings.get(HAS_ARGUMENTS, ""), "description": strings.get(HAS_NAME, ""),
            "hotkey": hotkey_value}  # fmt: skip
