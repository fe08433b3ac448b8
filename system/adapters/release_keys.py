"""Release keys and signatures on disk: reading the controller's update key, making a key pair, signing a wheel.

Formats (the rules are :mod:`system.decisions.signed_updates`): ``PREFIX.key`` is the private key, PEM
PKCS#8, created mode 0600 and never overwritten; ``PREFIX.pub`` the public key, PEM SubjectPublicKeyInfo,
the file a controller trusts (``--update-key``); ``WHEEL.sig`` one line, the base64 detached signature.
"""

from __future__ import annotations

import os
from pathlib import Path

from system.decisions.signed_updates import (Ed25519PrivateKey, Ed25519PublicKey, private_key_from_pem, private_pem,
                                             public_key_from_pem, public_pem, sign)
from system.errors import ConfigError


def _read(path: str | Path, source: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror})", source=source) from None


def read_public_key(path: str | Path, *, source: str = "--update-key") -> Ed25519PublicKey:
    """The public key a controller trusts for its updates (ConfigError naming ``source`` if unusable)."""
    return public_key_from_pem(_read(path, source), source=f"{source} {path}")


def read_private_key(path: str | Path, *, source: str = "--key") -> Ed25519PrivateKey:
    return private_key_from_pem(_read(path, source), source=f"{source} {path}")


def write_key_pair(prefix: str | Path) -> tuple[Path, Path]:
    """A new key pair (the OS's randomness) as ``PREFIX.key`` (0600) and ``PREFIX.pub``; an existing file is
    never overwritten (ConfigError)."""
    private, public = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (private, public):
        if path.exists():
            raise ConfigError(f"{path} exists; a release key is never overwritten", source="--out")
    key = Ed25519PrivateKey.generate()
    try:
        # O_EXCL with mode 0600: the secret is never readable by others, not even for a moment.
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot create {private} ({exc.strerror})", source="--out") from None
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem(key))
    public.write_bytes(public_pem(key.public_key()))
    return private, public


def sign_file(wheel: str | Path, key: Ed25519PrivateKey) -> tuple[str, Path]:
    """Sign the file ``wheel``: returns the base64 signature and the ``WHEEL.sig`` written beside it."""
    try:
        package = Path(wheel).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {wheel} ({exc.strerror})", source="WHEEL") from None
    signature = sign(key, package)
    out = Path(f"{wheel}.sig")
    out.write_text(signature + "\n", encoding="ascii")
    return signature, out
