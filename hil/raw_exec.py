# The virtual board's Python: runs code sent through the raw REPL, in the board's filesystem.
#
# Run by hil/virtual_board.py as ``micropython raw_exec.py FS`` (or CPython when the Unix
# port is missing). It reads "<length>\n<code>" from stdin, executes the code in one
# persistent namespace (mpremote's file transfer spans several executions), and writes
# what the raw REPL writes after "OK": the output, 0x04, the traceback if any, 0x04.
# ``machine.reset()`` ends the process with status 76, which the virtual board turns
# into a hard reset. MicroPython-compatible: no f-strings, no typing.

import os
import sys

RESET_EXIT = 76
MICROPYTHON = sys.implementation.name == "micropython"


class Machine:
    # What mpremote's reset and bootloader shortcuts call; the rest of machine is not simulated.
    def reset(self):
        sys.exit(RESET_EXIT)

    def soft_reset(self):
        sys.exit(RESET_EXIT)

    def bootloader(self):
        sys.exit(RESET_EXIT)

    def unique_id(self):
        return b"\x24\x0a\xc4\x12\x34\x56"

    def freq(self):
        return 240000000


def cpython_os():
    # MicroPython's os API on CPython for the file commands mpremote sends (stat tuples, ilistdir).
    import types
    shim = types.ModuleType("os")
    shim.__dict__.update(os.__dict__)
    shim.stat = lambda p: tuple(os.stat(p))

    def ilistdir(path="."):
        for entry in os.scandir(path):
            yield (entry.name, 0x4000 if entry.is_dir() else 0x8000, 0, 0 if entry.is_dir() else entry.stat().st_size)

    shim.ilistdir = ilistdir
    return shim


def read_code(stdin):
    header = b""
    while not header.endswith(b"\n"):
        ch = stdin.read(1)
        if not ch:
            return None
        header += ch
    n = int(header)
    code = b""
    while len(code) < n:
        part = stdin.read(n - len(code))
        if not part:
            return None
        code += part
    return code.decode("utf-8")


def out(text):
    sys.stdout.write(text)
    if not MICROPYTHON:
        sys.stdout.flush()


def show_exception(exc):
    if MICROPYTHON:
        sys.print_exception(exc, sys.stdout)
    else:
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stdout)


def main():
    os.chdir(sys.argv[1])
    sys.modules["machine"] = Machine()
    if not MICROPYTHON:
        sys.modules["os"] = cpython_os()
    stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    namespace = {"__name__": "__main__"}
    while True:
        code = read_code(stdin)
        if code is None:
            return
        error = None
        try:
            exec(compile(code, "<stdin>", "exec"), namespace)
        except Exception as exc:
            error = exc
        out("\x04")
        if error is not None:
            show_exception(error)
        out("\x04")


if __name__ == "__main__":
    main()
