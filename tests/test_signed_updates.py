"""The rules of a signed update (``system/decisions/signed_updates.py``) and the job document's update fields.

Known answers come from RFC 8032 (section 7.1, TEST 1 and TEST 2), not from the code under test.
"""

from __future__ import annotations

import base64

import pytest

from system.decisions.jobs_protocol import validate_job
from system.decisions.signed_updates import (package_refusal, private_key_from_seed, public_key_from_pem, public_pem,
                                             sign, signature_refusal, version_refusal, wheel_version)
from system.errors import ConfigError

# RFC 8032, 7.1 TEST 2: secret key, public key, message (one byte 0x72), signature.
RFC_SECRET = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC_MESSAGE = bytes.fromhex("72")
RFC_SIGNATURE = bytes.fromhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                              "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
# The same public key as an openssl-style PEM: the 12-byte SubjectPublicKeyInfo prefix of Ed25519 (RFC 8410).
RFC_PEM = (b"-----BEGIN PUBLIC KEY-----\n"
           + base64.b64encode(bytes.fromhex("302a300506032b6570032100") + RFC_PUBLIC)
           + b"\n-----END PUBLIC KEY-----\n")


def test_signing_gives_the_rfc_8032_signature_as_base64():
    assert base64.b64decode(sign(private_key_from_seed(RFC_SECRET), RFC_MESSAGE)) == RFC_SIGNATURE


def test_the_public_key_reads_from_pem_and_verifies_the_rfc_signature():
    key = public_key_from_pem(RFC_PEM)
    assert public_pem(key) == RFC_PEM
    assert signature_refusal(RFC_MESSAGE, base64.b64encode(RFC_SIGNATURE).decode(), key) is None
    assert signature_refusal(b"\x73", base64.b64encode(RFC_SIGNATURE).decode(), key).reason == "bad_signature"


@pytest.mark.parametrize("data", [b"", b"hello", RFC_PEM.replace(b"PUBLIC", b"PRIVATE"),
                                  b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"])
def test_a_file_that_is_not_an_ed25519_public_key_is_a_config_error_naming_the_option(data):
    with pytest.raises(ConfigError, match="--update-key"):
        public_key_from_pem(data, source="--update-key")


# (target, running, allowed without allow_downgrade): PEP 440 order, written out by hand.
VERSIONS = [
    ("0.2.0", "0.1.0", True), ("0.10.0", "0.9.0", True), ("1.0.0", "1.0.0rc1", True), ("1.0.0", "1.0.0", True),
    ("1.0.1", "1.0.0.post1", True), ("0.1.0", "0.2.0", False), ("0.9.0", "0.10.0", False),
    ("1.0.0rc1", "1.0.0", False), ("1.0", "1.0.1", False), ("2.0.dev1", "2.0", False),
]


@pytest.mark.parametrize("target, running, allowed", VERSIONS)
def test_a_lower_version_is_a_downgrade_unless_allowed(target, running, allowed):
    refused = version_refusal(target, running, allow_downgrade=False)
    assert (refused is None) == allowed
    if not allowed:
        assert refused.reason == "downgrade"
    assert version_refusal(target, running, allow_downgrade=True) is None


UPDATE = {"operation": "updateApplication", "version": "1.2.3", "url": "https://example.org/a.whl",
          "sha256": "a" * 64}


@pytest.mark.parametrize("extra, reason", [
    ({}, None),  # unsigned is the device's refusal (FAILED), not the document's
    ({"signature": "c2ln"}, None),
    ({"allow_downgrade": True}, None),
    ({"allow_downgrade": False}, None),
    ({"allow_downgrade": "yes"}, "wrong_type"),
    ({"allow_downgrade": 1}, "wrong_type"),
    ({"signature": 7}, "wrong_type"),
    ({"signature": "x" * 201}, "bad_value"),
    ({"signed": "c2ln"}, "unknown_field"),
])
def test_the_update_document_carries_a_signature_and_a_downgrade_flag(extra, reason):
    verdict = validate_job({**UPDATE, **extra})
    assert (None if verdict.ok else verdict.reason) == reason


def _zip(files: dict[str, str]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as made:
        for name, text in files.items():
            made.writestr(name, text)
    return out.getvalue()


@pytest.mark.parametrize("files, version", [
    ({"hilsim-1.2.3.dist-info/METADATA": "Metadata-Version: 2.1\nName: hilsim\nVersion: 1.2.3\n\nVersion: 9\n",
      "hilsim/cli.py": ""}, "1.2.3"),
    ({"hilsim-1.2.3.dist-info/METADATA": "Name: hilsim\n\nVersion: 1.2.3\n"}, None),  # in the body, not a header
    ({"hilsim/cli.py": ""}, None),
    ({"a-1.dist-info/METADATA": "Version: 1\n", "b-2.dist-info/METADATA": "Version: 2\n"}, None),
    ({"x/hilsim-1.dist-info/METADATA": "Version: 1\n"}, None),  # not at the top
])
def test_the_version_of_a_wheel_is_its_metadata_header(files, version):
    assert wheel_version(_zip(files)) == version


def test_a_package_that_is_not_a_zip_has_no_version():
    assert wheel_version(b"hilsim 0.2.0") is None and package_refusal(b"x", "0.2.0").reason == "version_mismatch"
