"""Sizes for people: SI units, as Ollama and Hugging Face print them."""

import pytest

from mcv.core.units import counted, format_bytes


@pytest.mark.parametrize(
    "count, text",
    [
        (None, "?"),
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 KB"),
        (117_350, "117 KB"),
        (1_048_576, "1.0 MB"),
        (9_949_999, "9.9 MB"),
        (101_000_000, "101 MB"),
        (999_499_999, "999 MB"),
        (999_500_000, "1.0 GB"),
        (4_920_000_000, "4.9 GB"),
        (16_100_000_000, "16 GB"),
        (3_000_000_000_000_000, "3000 TB"),
    ],
)
def test_format_bytes(count, text):
    assert format_bytes(count) == text


def test_counted_says_one_file_and_two_files():
    assert [counted(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert counted(1, "process", "processes") == "1 process" and counted(2, "process", "processes") == "2 processes"
