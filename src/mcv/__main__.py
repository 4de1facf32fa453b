from mcv.cli.main import main

if __name__ == "__main__":
    try:
        main()
    finally:
        # A Ctrl-C that lands while string-`exec`ed code runs (a dataclass's generated __init__ being
        # made, say, during a lazy import) leaves CPython's "unhandled KeyboardInterrupt" flag set even
        # though mcv catches it; under `python -m` the interpreter then kills itself with SIGINT after
        # exiting (status -2 instead of 130). Every string exec clears that flag at its start. A
        # KeyboardInterrupt that really escapes sets it again after this, in runpy's caller.
        exec("")
