"""What makes an application update acceptable: a trusted signature, and not a step back.

Rules, in one place:

- A release is signed with an Ed25519 private key; the signature is *detached*: 64 bytes over the wheel's
  exact bytes, written as standard base64 (88 characters), the job document's ``signature`` field and the
  text of ``WHEEL.sig``. Keys are PEM files: the private key PKCS#8 (``-----BEGIN PRIVATE KEY-----``), the
  public key SubjectPublicKeyInfo (``-----BEGIN PUBLIC KEY-----``), the formats of
  ``openssl genpkey -algorithm ed25519`` and ``openssl pkey -pubout``.
- A controller with no trusted key refuses every update (``no_update_key``): secure by default.
- No signature: ``unsigned``. A signature that does not verify with the trusted key (corrupt, over other
  bytes, or by another key: Ed25519 cannot tell these apart): ``bad_signature``.
- A version lower than the running one (PEP 440 order) is a ``downgrade`` unless the job allows it; a
  version that is not PEP 440 is ``bad_version``.
- The signed wheel must itself be the version the job names (its ``*.dist-info/METADATA``), or an old
  signed wheel could be sent again under a new number, past the downgrade rule: ``version_mismatch``.

Signing and verifying are deterministic; only making a new key needs randomness (an adapter's job).

For example::

    >>> key = private_key_from_seed(bytes(32))
    >>> signature_refusal(b"wheel", sign(key, b"wheel"), key.public_key()) is None
    True
    >>> signature_refusal(b"wheel", None, key.public_key()).reason
    'unsigned'
    >>> version_refusal("0.9", "1.0", allow_downgrade=False).reason
    'downgrade'
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from packaging.version import InvalidVersion, Version

from system.decisions.jobs_protocol import Refusal
from system.errors import ConfigError

def public_key_from_pem(data: bytes, *, source: str | None = None) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM ``PUBLIC KEY`` block; ConfigError (naming ``source``) otherwise."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not a PEM public key ({exc}); make one with hilsim release keygen",
                          source=source) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"a {type(key).__name__}, not an Ed25519 public key", source=source)
    return key


def private_key_from_pem(data: bytes, *, source: str | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key in an unencrypted PEM ``PRIVATE KEY`` block; ConfigError otherwise."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not an unencrypted PEM private key ({exc})", source=source) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"a {type(key).__name__}, not an Ed25519 private key", source=source)
    return key


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The key whose 32-byte secret is ``seed`` (the sim's release key comes from the scenario's seed)."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def sign(key: Ed25519PrivateKey, package: bytes) -> str:
    """The detached signature of ``package``, base64."""
    return base64.b64encode(key.sign(package)).decode("ascii")


def signature_refusal(package: bytes, signature: str | None, key: Ed25519PublicKey) -> Refusal | None:
    """None if ``signature`` (base64) is ``key``'s over ``package``; else why not."""
    if not signature:
        return Refusal("unsigned", "the job names no signature; sign the wheel with hilsim release sign")
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        key.verify(raw, package)
    except (binascii.Error, ValueError):
        return Refusal("bad_signature", "the signature is not base64 of 64 bytes")
    except InvalidSignature:
        return Refusal("bad_signature", "the signature does not verify with this controller's update key")
    return None


def version_refusal(target: str, running: str, *, allow_downgrade: bool) -> Refusal | None:
    """None if moving from ``running`` to ``target`` is allowed; ``downgrade`` below the running version."""
    try:
        new = Version(target)
    except InvalidVersion:
        return Refusal("bad_version", f"{target!r} is not a version number (PEP 440)")
    try:
        old = Version(running)
    except InvalidVersion:  # a development build: any release may replace it
        return None
    if new < old and not allow_downgrade:
        return Refusal("downgrade", f"{target} is older than the running {running}; the job may say "
                                    "allow_downgrade: true")
    return None


def wheel_version(package: bytes) -> str | None:
    """The ``Version`` in a wheel's ``*.dist-info/METADATA``; None if ``package`` is not such a wheel."""
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as wheel:
            names = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                return None
            metadata = wheel.read(names[0]).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    for line in metadata.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
    return None


def package_refusal(package: bytes, target: str) -> Refusal | None:
    """None if ``package`` is a wheel of version ``target``; else ``version_mismatch``."""
    found = wheel_version(package)
    try:
        same = found is not None and Version(found) == Version(target)
    except InvalidVersion:
        same = False
    if not same:
        return Refusal("version_mismatch", f"the job names version {target}, the package is "
                                           f"{found if found is not None else 'not a wheel'}")
    return None
