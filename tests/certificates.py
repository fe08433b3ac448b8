"""Test certificates, made fresh for each test that needs TLS (never committed)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path


def make_certificates(tmp: Path, accounts: tuple[str, ...] = ()) -> dict[str, Path]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (CN node-1), all signed by
    the CA (EC keys: fast). Paths by name: ``ca``, ``server``, ``server_key``, ``client``, ``client_key``;
    and for each of ``accounts`` a client certificate with that CN, ``client-<account>`` and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def make(cn: str, issuer=None, issuer_key=None, *, ca=False, san=None, usage=None):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                            critical=True)
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                            critical=False)
        else:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                            critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return cert, key

    ca, ca_key = make("hilsim test CA", ca=True)
    server, server_key = make("127.0.0.1", ca.subject, ca_key, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                              usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client, client_key = make("node-1", ca.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    made = [("ca", ca, ca_key), ("server", server, server_key), ("client", client, client_key)]
    for account in accounts:
        made.append((f"client-{account}", *make(account, ca.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)))
    paths = {}
    for name, cert, key in made:
        paths[name] = tmp / f"test-only-{name}.pem"
        paths[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths[f"{name}_key"] = tmp / f"test-only-{name}.key"
        paths[f"{name}_key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    return paths
