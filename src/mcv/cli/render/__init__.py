"""Rendering, kept apart from the logic that produces what is shown.

stream.py  answer text: plain for pipes, live Markdown for terminals; metrics lines
turn.py    one turn of the core session's events: answer on stdout, notes on stderr, --json
"""
