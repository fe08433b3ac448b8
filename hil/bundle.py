"""The files that go onto a board: the firmware package, ``boot.py``, ``main.py`` and ``config.json``.

One list, used by ``hilsim board deploy`` (mpremote copies it onto a real or virtual
board) and by the virtual board when it starts from a bundle directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import firmware

FIRMWARE = Path(firmware.__file__).resolve().parent


def firmware_files() -> list[tuple[Path, str]]:
    """(source file, path on the board) for every file of the firmware, sorted: the bundle minus its config."""
    files = [(FIRMWARE / "board" / "boot.py", "boot.py"), (FIRMWARE / "board" / "main.py", "main.py")]
    for path in sorted(FIRMWARE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            files.append((path, "firmware/" + path.relative_to(FIRMWARE).as_posix()))
    return files


def board_dirs() -> list[str]:
    """Directories the bundle needs on the board, parents first."""
    dirs = {str(Path(board).parent.as_posix()) for _, board in firmware_files()} - {"."}
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def write_bundle(target: Path, config: dict) -> Path:
    """Lay the bundle out in directory ``target`` (a virtual board's filesystem); returns ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for source, board in firmware_files():
        dest = target / board
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target
