# The virtual board's Python: runs code sent through the raw REPL, in the board's filesystem.
#
# Run by hil/virtual_board.py as ``micropython raw_exec.py FS`` (or CPython when the Unix
# port is missing). It reads "<length>\n<code>" from stdin, executes the code in one
# persistent namespace (mpremote's file transfer spans several executions), and writes
# what the raw REPL writes after "OK": the output, 0x04, the traceback if any, 0x04.
# ``machine.reset()`` ends the process with status 76, which the virtual board turns
# into a hard reset; ``machine.bootloader()`` with 77, into download mode. Paths are the
# board's: "/" is the filesystem directory, and ".." may not leave it (mpremote's ``rm -r :/`` must not reach the host's root).
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

    def __getattr__(self, name):
        return getattr(self._os, name)

    def path(self, p):
        p = p.decode() if isinstance(p, bytes) else str(p)
        if ".." in p.split("/"):
            raise OSError(13, "EACCES")
        if p.startswith("/"):
            return self._root + p
        return p

    def getcwd(self):
        cwd = self._os.getcwd()
        return cwd[len(self._root):] or "/"

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

    def mount(self, *args):
        raise OSError(95, "mpremote mount is not emulated by the virtual board (copy files with mpremote cp)")

    def uname(self):
        return ("esp32", "esp32", "1.24.1", "v1.24.1 on 2024-11-29", "Generic ESP32 module with ESP32")


def read_code(stdin):
    # "<length>\n<code>" runs as a module (the raw REPL); "s<length>\n<code>" as one statement of the
    # friendly REPL, which prints an expression's value.
    header = b""
    while not header.endswith(b"\n"):
        ch = stdin.read(1)
        if not ch:
            return None, None
        header += ch
    mode = "exec"
    if header.startswith(b"s"):
        mode, header = "single", header[1:]
    n = int(header)
    code = b""
    while len(code) < n:
        part = stdin.read(n - len(code))
        if not part:
            return None, None
        code += part
    return code.decode("utf-8"), mode


def out(text):
    sys.stdout.write(text)
    if not MICROPYTHON:
        sys.stdout.flush()


def show_exception(exc):
    if MICROPYTHON:
        import io
        text = io.StringIO()
        sys.print_exception(exc, text)
        # the board's traceback starts at <stdin>: not at this file, which runs the code
        out("".join(line + "\n" for line in text.getvalue().split("\n") if line and "raw_exec.py" not in line))
    elif isinstance(exc, OSError) and exc.errno is not None:
        # as MicroPython words it, which is what mpremote reads back ("OSError: [Errno 2] ENOENT")
        import errno
        out('Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
            + "OSError: [Errno %d] %s\n" % (exc.errno, errno.errorcode.get(exc.errno, "EIO")))
    else:
        import traceback
        out("".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next or exc.__traceback__)))


def main():
    os.chdir(sys.argv[1])
    board_os = BoardOs(os, os.getcwd())
    sys.modules["machine"] = Machine()
    sys.modules["vfs"] = Vfs()
    sys.modules["os"] = board_os
    import builtins
    host_open = builtins.open

    def board_open(path, *args, **kwargs):
        return host_open(board_os.path(path), *args, **kwargs)

    builtins.open = board_open
    stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    namespace = {"__name__": "__main__"}
    while True:
        code, mode = read_code(stdin)
        if code is None:
            return
        error = None
        try:
            exec(compile(code, "<stdin>", mode), namespace)
        except Exception as exc:
            error = exc
        out("\x04")
        if error is not None:
            show_exception(error)
        out("\x04")


if __name__ == "__main__":
    main()
