"""The desktop surface: `mcv describe|ocr|alt|ask-dialog -- FILE...` (job.py) and what it shows
things with: notifications (notify.py) and dialogs (dialogs.py)."""
