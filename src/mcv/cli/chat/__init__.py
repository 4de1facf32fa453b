"""`mcv chat`: a terminal chat about images over the core session.

run.py         options -> settings, session, conversation (new or resumed), then the loop
loop.py        ChatLoop: read a line; a command, dropped files or a question; show the turn
commands.py    the slash commands (each in /help, each completed on Tab)
line_input.py  prompt_toolkit on a terminal (history file, multi-line, completion); plain lines from a pipe

The conversation itself (messages, waiting images, retry, undo, context
estimate, save/load, history id) lives in mcv.core.conversation.
"""
