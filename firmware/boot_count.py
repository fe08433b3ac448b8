# The boot counter: which boot of this board a reading belongs to, kept on flash.
#
# ``next_boot(flash)`` reads the count, adds one, writes it back and returns it: 1 on a
# board's first boot. It runs when the node starts, before its first reading, so no two
# boots share a number (a boot that took no reading leaves a gap in the boot numbers,
# which costs nothing). The count is one small file, written once per boot: LittleFS
# levels the wear, and a board that boots every minute for ten years writes it 5 million
# times spread over the whole filesystem.
#
# A flash is anything with ``read(name)`` (the text, or None when absent) and
# ``write(name, text)``: ``FileFlash`` on the board's filesystem, ``MemoryFlash`` in sim,
# where the world keeps it across a power cut as a board keeps its flash.

import os

BOOT_FILE = "boot.count"


class FileFlash:
    # Files in a directory of the board's filesystem ("": the working directory, / on the board).
    def __init__(self, root=""):
        self.root = root

    def _path(self, name):
        return self.root + "/" + name if self.root else name

    def read(self, name):
        try:
            with open(self._path(name)) as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, text):
        # Written beside, then renamed over the old file: a power cut mid-write keeps the old text.
        new = self._path(name + ".new")
        with open(new, "w") as f:
            f.write(text)
        try:
            os.rename(new, self._path(name))
        except OSError:  # a filesystem whose rename does not replace (FAT)
            os.remove(self._path(name))
            os.rename(new, self._path(name))


class MemoryFlash:
    # Flash as a dict, held by whoever owns the board: it outlives the Node, as flash outlives a power cut.
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, text):
        self.files[name] = text


def next_boot(flash):
    # Count this boot on ``flash``; returns its number (1, 2, ...). An unreadable count restarts at 1.
    text = flash.read(BOOT_FILE)
    try:
        last = int(text) if text else 0
    except ValueError:
        last = 0
    boot = last + 1
    flash.write(BOOT_FILE, str(boot))
    return boot
