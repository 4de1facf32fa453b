"""`mcv plugins`: install mcv into other programs' menus, and take it out again.

A target is one module in targets/ plus one line in registry.py; the engine
(engine.py) applies the changes it plans (changes.py) and remembers them
(manifest.py), so uninstall removes exactly what was installed.
"""
