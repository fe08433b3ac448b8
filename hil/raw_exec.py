# The virtual board's Python: runs code sent through the raw REPL, in the board's filesystem.
#
# Run by hil/virtual_board.py as ``micropython raw_exec.py FS CTL FENCE [EMULATION]`` (or CPython when the
# Unix port is missing). It reads "<length>\n<code>" from stdin, executes the code in one
# persistent namespace (mpremote's file transfer spans several executions), and writes
# what the raw REPL writes after "OK": the output, 0x04, the traceback if any, 0x04.
# While code runs, stdin and stdout are the board's UART, raw (mpremote mount's hook reads
# and writes them). The board hears about the execution on the control pipe CTL (a file
# descriptor): "r" the code starts (before, a SIGINT would hit this file, not the code); "-" / "+"
# micropython.kbd_intr() disabled or enabled Ctrl-C (the board sends SIGINT for a Ctrl-C only
# while it is enabled, else passes the byte on, as the chip does);
# "." the code ended, after which the board writes "\0FENCE\0" to stdin and the interpreter
# answers "<n>\n" and the n bytes before the fence that the code left unread (the REPL's). ``machine.reset()`` ends the process with status 76 (75
# with the emulated ESP32 modules), which the virtual board turns into a reset;
# ``machine.bootloader()`` with 77, into download mode. Paths are the board's: "/" is the
# filesystem directory, and ".." may not leave it (mpremote's ``rm -r :/`` must not reach the
# host's root); a mount point (os.mount, MicroPython's VFS) and the paths under it are the VFS's.
# EMULATION, a directory of the emulated ESP32's modules (hil/esp32_emulation), comes first on
# the module path when given: then ``machine`` is the emulated chip's.
# MicroPython-compatible: no f-strings, no typing.

import os
import sys

RESET_EXIT, BOOTLOADER_EXIT = 76, 77
BLOCK, FS_BLOCKS = 4096, 512  # the emulated flash filesystem: 512 blocks of 4 KiB
MICROPYTHON = sys.implementation.name == "micropython"


class Machine:
    # What mpremote's reset and bootloader shortcuts call; the rest of machine is not simulated.
    def reset(self):
        sys.exit(RESET_EXIT)

    def soft_reset(self):
        sys.exit(RESET_EXIT)

    def bootloader(self):
        sys.exit(BOOTLOADER_EXIT)

    def unique_id(self):
        return b"\x24\x0a\xc4\x12\x34\x56"

    def freq(self):
        return 240000000


class Vfs:
    # MicroPython's vfs module as mpremote's df asks it: one LittleFS mounted at "/".
    class VfsLfs2:
        def __repr__(self):
            return "<VfsLfs2>"

    def mount(self):
        return [(self.VfsLfs2(), "/")]


class BoardOs:
    # The board's os module, jailed in its filesystem directory: "/main.py" is FS/main.py, and no path
    # may climb out with "..". Everything else is the host interpreter's os.

    def __init__(self, real, root):
        self._os = real
        self._root = root.rstrip("/")
        self._mounts = []

    def __getattr__(self, name):
        return getattr(self._os, name)

    def path(self, p):
        p = p.decode() if isinstance(p, bytes) else str(p)
        if ".." in p.split("/"):
            raise OSError(13, "EACCES")
        if p.startswith("/"):
            for point in self._mounts:
                if p == point or p.startswith(point + "/"):
                    return p
            return self._root + p
        return p

    def getcwd(self):
        cwd = self._os.getcwd()
        if cwd == self._root or cwd.startswith(self._root + "/"):
            return cwd[len(self._root):] or "/"
        return cwd  # in a mounted filesystem

    def chdir(self, p):
        self._os.chdir(self.path(p))

    def stat(self, p):
        return tuple(self._os.stat(self.path(p)))

    def statvfs(self, p):
        # The board's filesystem, not the host's disk: a LittleFS of FS_BLOCKS blocks (the 2 MiB vfs partition
        # of MicroPython's 4 MiB ESP32 layout), with what the directory holds counted in whole blocks.
        used = 2 + self._blocks_under(self.path(p))
        free = max(0, FS_BLOCKS - used)
        return (BLOCK, BLOCK, FS_BLOCKS, free, free, 0, 0, 0, 0, 255)

    def _blocks_under(self, top):
        blocks = 1
        for entry in self._os.listdir(top):
            path = top + "/" + entry
            if self._os.stat(path)[0] & 0x4000:
                blocks += self._blocks_under(path)
            else:
                blocks += (self._os.stat(path)[6] + BLOCK - 1) // BLOCK
        return blocks

    def listdir(self, p="."):
        return self._os.listdir(self.path(p or "."))

    def ilistdir(self, p="."):
        p = self.path(p or ".")
        if hasattr(self._os, "ilistdir"):
            return self._os.ilistdir(p)
        return [(e.name, 0x4000 if e.is_dir() else 0x8000, 0, 0 if e.is_dir() else e.stat().st_size)
                for e in self._os.scandir(p)]

    def mkdir(self, p):
        self._os.mkdir(self.path(p))

    def rmdir(self, p):
        self._os.rmdir(self.path(p))

    def remove(self, p):
        self._os.remove(self.path(p))

    unlink = remove

    def rename(self, a, b):
        self._os.rename(self.path(a), self.path(b))

    def mount(self, fs, point, *args, **kwargs):
        # MicroPython's VFS mounts a Python filesystem object (mpremote mount's RemoteFS); CPython has none
        if not hasattr(self._os, "mount"):
            raise OSError(95, "mount needs the MicroPython Unix port on the virtual board's host")
        self._os.mount(fs, point, *args, **kwargs)
        self._mounts.append(point.rstrip("/") or "/")

    def umount(self, point):
        self._os.umount(point)
        if point in self._mounts:
            self._mounts.remove(point)

    def uname(self):
        return ("esp32", "esp32", "1.24.1", "v1.24.1 on 2024-11-29", "Generic ESP32 module with ESP32")


def read_code(stdin):
    # "<length>\n<code>" runs as a module (the raw REPL); "s<length>\n<code>" as one statement of the
    # friendly REPL, which prints an expression's value. Stray bytes before the header are skipped.
    header = b""
    while not header.endswith(b"\n"):
        ch = stdin.read(1)
        if not ch:
            return None, None
        header += ch
    header = header.strip()
    digits = len(header)
    while digits > 0 and header[digits - 1:digits].isdigit():
        digits -= 1
    if digits == len(header):
        return read_code(stdin)  # no frame header: stray bytes alone on their line
    mode = "single" if header[digits - 1:digits] == b"s" else "exec"
    n = int(header[digits:])
    code = b""
    while len(code) < n:
        part = stdin.read(n - len(code))
        if not part:
            return None, None
        code += part
    return code.decode("utf-8"), mode


def unread(stdin, fence):
    # The console bytes the code did not read (typed ahead, or mpremote's "\r\x01" after its Ctrl-C), up to the
    # fence the board sends once it knows the code is done: they are the REPL's, which the board gets back.
    got = b""
    while not got.endswith(fence):
        ch = stdin.read(1)
        if not ch:
            break
        got += ch
    return got[:-len(fence)] if got.endswith(fence) else got


def out(text):
    sys.stdout.write(text)
    if not MICROPYTHON:
        sys.stdout.flush()


class Control:
    # The control pipe to the virtual board (see the top of this file).
    def __init__(self, fd):
        self._f = open("/dev/fd/" + fd, "wb")

    def send(self, what):
        self._f.write(what)
        if not MICROPYTHON:
            self._f.flush()


class MicroPythonModule:
    # The micropython module, but kbd_intr() tells the board, which turns a Ctrl-C into SIGINT or passes it on:
    # the Unix port's own kbd_intr(-1) would leave SIGINT at its default, which kills the process. Under
    # CPython (real None) only const() and kbd_intr() are there.
    def __init__(self, real, control):
        self._real = real
        self._control = control

    def __getattr__(self, name):
        if self._real is None:
            raise AttributeError(name)
        return getattr(self._real, name)

    def const(self, value):
        return value

    def kbd_intr(self, char):
        self._control.send(b"+" if char == 3 else b"-")


class Cooked:
    # The friendly REPL's output, as the chip's console writes print(): each "\n" as "\r\n". Raw bytes written to
    # sys.stdout.buffer (mpremote mount's protocol) are left alone.
    def __init__(self, host_print):
        self._print = host_print

    def print(self, *args, **kwargs):
        if kwargs.get("file") is not None:
            return self._print(*args, **kwargs)
        text = kwargs.get("sep", " ").join([str(a) for a in args]) + kwargs.get("end", "\n")
        out(text.replace("\n", "\r\n"))

    def repr(self, value):  # __repl_print__ / sys.displayhook: an expression's value at the prompt
        if value is not None:
            out(repr(value) + "\r\n")


def show_exception(exc, cooked=False):
    text = exception_text(exc)
    out(text.replace("\n", "\r\n") if cooked else text)


def exception_text(exc):
    if MICROPYTHON:
        import io
        text = io.StringIO()
        sys.print_exception(exc, text)
        # the board's traceback starts at <stdin>: not at this file, which runs the code
        return "".join(line + "\n" for line in text.getvalue().split("\n") if line and "raw_exec.py" not in line)
    if isinstance(exc, OSError) and exc.errno is not None:
        # as MicroPython words it, which is what mpremote reads back ("OSError: [Errno 2] ENOENT")
        import errno
        why = "" if exc.strerror in (None, os.strerror(exc.errno)) else ": " + exc.strerror  # the board's own words
        return ('Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
                + "OSError: [Errno %d] %s%s\n" % (exc.errno, errno.errorcode.get(exc.errno, "EIO"), why))
    import traceback
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next or exc.__traceback__))


def jail(root, emulation, control):
    # The board's modules, paths and open(); the stand-in machine unless the emulated ESP32's is there.
    os.chdir(root)
    board_os = BoardOs(os, os.getcwd())
    sys.path[0] = ""  # the board's filesystem, not this file's directory (MicroPython's sys.path starts with "")
    chip = None
    if emulation:
        sys.path.insert(0, emulation)
        import _esp32_hw as chip  # the emulated chip's hardware is the host's files, outside the board's: its
        # os and open() are the host's (imported now, before the board's replace them)
    else:
        sys.modules["machine"] = Machine()
    sys.path.append(board_os.path("/lib"))
    sys.modules["vfs"] = Vfs()
    sys.modules["os"] = board_os
    real = None
    if MICROPYTHON:
        import micropython as real
    sys.modules["micropython"] = MicroPythonModule(real, control)
    import builtins
    host_open = builtins.open

    def board_open(path, *args, **kwargs):
        return host_open(board_os.path(path), *args, **kwargs)

    builtins.open = board_open
    if chip is not None:
        chip.open = host_open


def run(code, mode, namespace, cooked, control):
    # One execution, as the REPL does it: raw mode "exec" frames the output with 0x04 markers; "single" (the
    # friendly REPL) prints with "\r\n" and an expression's value.
    import builtins
    host_print = builtins.print
    if mode == "single":
        builtins.print = cooked.print
        namespace["__repl_print__"] = cooked.repr  # MicroPython's compiler calls it; CPython sys.displayhook
    error = None
    try:
        control.send(b"r")  # from now on a SIGINT is a KeyboardInterrupt in the code, caught below
        exec(compile(code, "<stdin>", mode), namespace)
    except SystemExit:
        raise
    except BaseException as exc:  # KeyboardInterrupt too: the board's SIGINT for a Ctrl-C
        error = exc
    finally:
        builtins.print = host_print
    if mode == "exec":
        out("\x04")
    if error is not None:
        show_exception(error, mode == "single")
    if mode == "exec":
        out("\x04")


def main():
    control = Control(sys.argv[2])
    fence = b"\x00" + sys.argv[3].encode() + b"\x00"
    jail(sys.argv[1], sys.argv[4] if len(sys.argv) > 4 else None, control)
    import builtins
    cooked = Cooked(builtins.print)
    if not MICROPYTHON:
        sys.displayhook = cooked.repr
    stdin = sys.stdin.buffer if MICROPYTHON else sys.stdin.buffer.raw  # unbuffered: no byte read ahead
    namespace = {"__name__": "__main__"}
    while True:
        code, mode = read_code(stdin)
        if code is None:
            return
        try:
            run(code, mode, namespace, cooked, control)
        except KeyboardInterrupt:  # a Ctrl-C that came as the execution ended: nothing left to interrupt
            pass
        control.send(b".")
        left = unread(stdin, fence)
        control.send(b"%d\n" % len(left) + left)


if __name__ == "__main__":
    main()
