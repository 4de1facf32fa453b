"""Stream renderers, checked through a real terminal emulator (pyte) with scrollback."""

from __future__ import annotations

import io

import pyte
import pytest
from rich.console import Console

from mcv.cli.render.stream import MarkdownRenderer, PlainRenderer, last_block_boundary


def terminal_text(stream: str, columns: int = 60, lines: int = 10) -> list[str]:
    """Everything a user can see or scroll back to after `stream` was written to a terminal."""
    screen = pyte.HistoryScreen(columns, lines, history=10_000)
    pyte.Stream(screen).feed(stream.replace("\n", "\r\n"))
    history = ["".join(ch.data for ch in row.values()).rstrip() for row in screen.history.top]
    return history + [line.rstrip() for line in screen.display]


def render_markdown(text: str, *, piece: int = 3, columns: int = 60, lines: int = 10) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=columns, height=lines, color_system=None)
    renderer = MarkdownRenderer(console)
    renderer.refresh_interval = 0  # redraw on every chunk: the worst case for duplicates
    for start in range(0, len(text), piece):
        renderer.feed(text[start : start + piece])
    renderer.finish()
    return out.getvalue()


def test_long_answer_appears_once_in_the_scrollback():
    text = "\n\n".join(f"Paragraph {i} of the answer, with **bold** text." for i in range(1, 31))
    seen = terminal_text(render_markdown(text))
    for i in range(1, 31):
        assert sum(f"Paragraph {i} of" in line for line in seen) == 1, i
    assert not any("**" in line for line in seen)  # rendered, not raw


def test_code_fence_with_blank_lines_stays_one_block():
    text = "Intro.\n\n```python\nx = 1\n\ny = 2\n```\n\nAfter."
    seen = terminal_text(render_markdown(text, piece=2), lines=30)
    assert [line.strip() for line in seen if line.strip()] == ["Intro.", "x = 1", "y = 2", "After."]


def test_ctrl_c_echoed_by_the_terminal_leaves_no_stale_line():
    """The tty echoes "^C" at the cursor when the user interrupts; the live tail
    must still be erased whole, so the answer so far appears exactly once."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=60, height=10, color_system=None)
    renderer = MarkdownRenderer(console)
    renderer.refresh_interval = 0
    text = "First paragraph, finished.\n\nA second paragraph that is still being written when"
    for start in range(0, len(text), 4):
        renderer.feed(text[start : start + 4])
    out.write("^C")  # what the terminal itself prints, at the cursor
    renderer.finish()
    seen = [line for line in terminal_text(out.getvalue()) if line.strip()]
    assert seen == ["First paragraph, finished.", "A second paragraph that is still being written when"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("no blank line yet", 0),
        ("one\n\ntwo", len("one\n\n")),
        ("a\n\n```\ncode\n\nmore", len("a\n\n")),  # the blank line inside the open fence does not count
        ("a\n\n```\ncode\n```\n\nb", len("a\n\n```\ncode\n```\n\n")),
    ],
)
def test_block_boundaries(text, expected):
    assert last_block_boundary(text) == expected


def test_plain_renderer_passes_text_through_and_ends_the_line():
    out = io.StringIO()
    renderer = PlainRenderer(out)
    for piece in ("**a", "**", " b"):
        renderer.feed(piece)
    renderer.finish()
    assert out.getvalue() == "**a** b\n"


MIXED = """## Receipt

| item | price |
|---|---|
| milk | 1.20 |
| bread | 2.50 |

1. first point
2. second point

Some text with `code` and **bold**.

```
TOTAL 3.70

PAID
```

> a quote

Done."""


@pytest.mark.parametrize("piece", [1, 4, 9, 50])
def test_streamed_screen_equals_the_one_shot_rendering(piece):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=60, height=8, color_system=None)
    from rich.markdown import Markdown

    console.print(Markdown(MIXED))
    once = [line for line in terminal_text(out.getvalue(), lines=8) if line.strip()]
    streamed = [line for line in terminal_text(render_markdown(MIXED, piece=piece, lines=8), lines=8) if line.strip()]
    assert streamed == once
