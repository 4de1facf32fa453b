"""`mcv snap`: a piece of the screen -> MiniCPM-V -> the clipboard and a notification.

    desktop.py   which desktop this is, from environment facts (session type, desktop name)
    tools.py     the capture tools of each desktop, as data (argv per mode), and which ones apply
    capture.py   run one tool in a private temporary folder: PNG bytes, or Cancelled
    portal.py    the xdg-desktop-portal Screenshot call (GNOME and KDE on Wayland), over D-Bus
    run.py       capture, then one desktop job (plugins/desktop/job.py) over the core session
    doctor.py    what `mcv doctor` says about capturing here
"""
