"""``hilsim release keygen`` and ``hilsim release sign`` (``hilsim/commands/release_cmd.py``), and the controller's
``--update-key``. The files are checked with ``cryptography`` and ``openssl`` directly, not with our readers."""

from __future__ import annotations

import base64
import shutil
import stat
import subprocess

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from hilsim.cli import main


def hilsim(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def keys(tmp_path):
    made = hilsim("release", "keygen", "--out", str(tmp_path / "release"))
    assert made.exit_code == 0, made.output
    return tmp_path / "release.key", tmp_path / "release.pub"


def test_keygen_writes_a_pem_pair_and_only_the_owner_may_read_the_private_key(keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    secret = load_pem_private_key(private.read_bytes(), password=None)
    trusted = load_pem_public_key(public.read_bytes())
    assert isinstance(secret, Ed25519PrivateKey) and isinstance(trusted, Ed25519PublicKey)
    assert secret.public_key() == trusted


def test_keygen_never_overwrites_a_key(keys):
    before = keys[0].read_bytes()
    again = hilsim("release", "keygen", "--out", str(keys[0].with_suffix("")))
    assert again.exit_code == 2 and "is never overwritten" in again.output
    assert keys[0].read_bytes() == before


def test_sign_writes_wheel_sig_and_prints_the_signature_openssl_verifies(keys, tmp_path):
    wheel = tmp_path / "hilsim-0.2.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 a wheel")
    signed = hilsim("release", "sign", str(wheel), "--key", str(keys[0]))
    assert signed.exit_code == 0, signed.output
    signature = signed.stdout.strip()
    assert (tmp_path / f"{wheel.name}.sig").read_text() == signature + "\n"
    raw = base64.b64decode(signature, validate=True)
    load_pem_public_key(keys[1].read_bytes()).verify(raw, wheel.read_bytes())  # raises if it does not verify
    if shutil.which("openssl"):
        (tmp_path / "sig.bin").write_bytes(raw)
        subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(keys[1]), "-rawin",
                        "-in", str(wheel), "-sigfile", str(tmp_path / "sig.bin")], check=True, capture_output=True)


def test_sign_with_a_public_key_or_no_file_is_one_error_line(keys, tmp_path):
    wheel = tmp_path / "a.whl"
    wheel.write_bytes(b"x")
    for key, message in ((keys[1], "not an unencrypted PEM private key"), (tmp_path / "none.key", "cannot read")):
        result = hilsim("release", "sign", str(wheel), "--key", str(key))
        assert result.exit_code == 2 and result.output.startswith("Error: --key") and message in result.output


def test_controller_refuses_an_update_key_it_cannot_use(keys, tmp_path):
    for key, message in ((keys[0], "not a PEM public key"), (tmp_path / "none.pub", "cannot read")):
        result = hilsim("controller", "--db", str(tmp_path / "c.db"), "--update-key", str(key), "--for", "1")
        assert result.exit_code == 2 and "Error: --update-key" in result.output and message in result.output
    assert not (tmp_path / "c.db").exists()  # refused before anything was opened
