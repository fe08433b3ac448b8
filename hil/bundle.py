"""The files that go onto a board: the firmware package, ``boot.py``, ``main.py``, ``config.json`` and the TLS
files the config names (PEM, as they are: the firmware decodes them to DER for MicroPython's ssl).

One list, used by ``hilsim board deploy`` (mpremote copies it onto a real or virtual
board) and by the virtual board when it starts from a bundle directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import firmware
from system.errors import ConfigError

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


def tls_files(config: dict, files_from: Path) -> tuple[dict, list[tuple[Path, str]]]:
    """The config as the board sees it (each TLS file by its name in the board's root) and (host file, board
    name) for every file of its ``tls`` section, host paths relative to ``files_from``. ConfigError names a
    missing file."""
    tls = config.get("tls")
    if not isinstance(tls, dict):
        return config, []
    on_board, files = dict(tls), []
    for key, value in tls.items():
        if not isinstance(value, str):
            continue
        source = files_from / value
        if not source.is_file():
            raise ConfigError(f"tls: {key} file {value} not found in {files_from} (deploy copies it onto the board)",
                              source="config.json")
        on_board[key] = source.name
        files.append((source, source.name))
    return dict(config, tls=on_board), files


def write_bundle(target: Path, config: dict, files_from: Path | None = None) -> Path:
    """Lay the bundle out in directory ``target`` (a virtual board's filesystem); returns ``target``. The TLS
    files of ``config`` are read from ``files_from`` (default: the working directory)."""
    target.mkdir(parents=True, exist_ok=True)
    config, extra = tls_files(config, files_from or Path.cwd())
    for source, board in firmware_files() + extra:
        dest = target / board
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target
