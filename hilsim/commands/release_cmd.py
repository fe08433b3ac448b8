"""``hilsim release``: the release key pair, and signing a wheel for ``updateApplication`` jobs.

A controller installs an update only if the wheel carries a detached Ed25519 signature by the key it
trusts (``hilsim controller --update-key PREFIX.pub``); formats in ``system/adapters/release_keys.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from hilsim.commands.user_errors import user_errors
from system.adapters.release_keys import read_private_key, sign_file, write_key_pair


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             short_help="Release keys and signed wheels for over-the-air updates.")
def release() -> None:
    """Make the release key pair and sign wheels for updateApplication jobs.

    \b
    hilsim release keygen --out keys/release      # keys/release.key (0600), keys/release.pub
    hilsim release sign dist/hilsim-0.2.0-py3-none-any.whl --key keys/release.key
    hilsim controller ... --ota-root DIR --update-key keys/release.pub
    """


@release.command()
@click.option("--out", "prefix", required=True, metavar="PREFIX",
              help="Write PREFIX.key (private, PEM PKCS#8, mode 0600) and PREFIX.pub (public, PEM).")
def keygen(prefix: str) -> None:
    """Make a new Ed25519 release key pair. Keep PREFIX.key off the controllers; give them PREFIX.pub."""
    with user_errors("--out"):
        private, public = write_key_pair(prefix)
    click.echo(f"wrote {private} (private, 0600) and {public} (public: hilsim controller --update-key {public})",
               err=True)


@release.command()
@click.argument("wheel", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The private release key (PREFIX.key from hilsim release keygen).")
def sign(wheel: Path, key_path: str) -> None:
    """Sign WHEEL: write WHEEL.sig (the base64 signature, one line) and print the job fields it goes with.

    Standard output is the signature alone (for the job document's "signature"); its SHA-256 (for "sha256")
    goes to standard error with the file written.
    """
    with user_errors("--key"):
        signature, out = sign_file(wheel, read_private_key(key_path))
    click.echo(signature)
    click.echo(f"wrote {out}; sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()}", err=True)
