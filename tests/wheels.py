"""Wheels of this checkout with another version number, written directly in the wheel format (PEP 427):
no build backend and no network, so an update test builds in a second on a machine with no registry."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from processes import ROOT

PACKAGES = ("hilsim", "sim", "system", "firmware", "hil")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _sources(version: str, broken: bool) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    trace = files["system/trace.py"].decode()
    assert 'VERSION = "0.1.0"' in trace
    files["system/trace.py"] = trace.replace('VERSION = "0.1.0"', f'VERSION = "{version}"').encode()
    if broken:  # its command line dies at import
        files["hilsim/cli.py"] += b'\nraise SystemExit("this version cannot start")\n'
    return files


def write_wheel(directory: Path, version: str, *, broken: bool = False) -> Path:
    """``directory/hilsim-VERSION-py3-none-any.whl``: the packages of this checkout, reporting ``version``."""
    info = f"hilsim-{version}.dist-info"
    files = _sources(version, broken)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: hilsim\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: hilsim-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nhilsim = hilsim.cli:main\n"
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"hilsim-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            out.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return wheel
