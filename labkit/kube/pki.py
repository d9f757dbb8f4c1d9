"""The certificates and keys a local control plane needs, made with `cryptography`.

A real cluster's installer (kubeadm) makes the same set; here it is the
smallest one that works, valid only on 127.0.0.1:

* ``ca.crt``/``ca.key``        the cluster's certificate authority
* ``apiserver.crt``/``.key``   kube-apiserver's serving certificate (127.0.0.1, localhost)
* ``admin.crt``/``.key``       a client certificate in group ``system:masters`` (cluster admin)
* ``sa.key``/``sa.pub``        the key pair that signs service-account tokens

Files are written once; a second call reuses them (the kubeconfig stays valid
across restarts).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PKI", "make_pki"]


@dataclass(frozen=True)
class PKI:
    """Paths of the files in the cluster's ``pki`` folder."""

    dir: Path

    ca_crt = property(lambda self: self.dir / "ca.crt")
    ca_key = property(lambda self: self.dir / "ca.key")
    apiserver_crt = property(lambda self: self.dir / "apiserver.crt")
    apiserver_key = property(lambda self: self.dir / "apiserver.key")
    admin_crt = property(lambda self: self.dir / "admin.crt")
    admin_key = property(lambda self: self.dir / "admin.key")
    sa_key = property(lambda self: self.dir / "sa.key")
    sa_pub = property(lambda self: self.dir / "sa.pub")

    def complete(self) -> bool:
        return all(getattr(self, f).is_file() for f in
                   ("ca_crt", "ca_key", "apiserver_crt", "apiserver_key", "admin_crt",
                    "admin_key", "sa_key", "sa_pub"))


def make_pki(directory: Path, *, days: int = 365) -> PKI:
    """Create (or reuse) the cluster's certificates and keys in ``directory``."""
    try:
        import cryptography  # noqa: F401  (an extra: labkit[mesh])
    except ImportError:
        from ..errors import ToolchainError

        raise ToolchainError("the `cryptography` package is not installed",
                             fix="install labkit's mesh extra: pip install 'labkit[mesh]' "
                                 "(`make env` does)") from None
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    pki = PKI(directory)
    if pki.complete():
        return pki

    now = dt.datetime.now(dt.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(k, path: Path) -> None:
        path.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        path.chmod(0o600)

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def cert(subject, public_key, issuer, signer, *, ca=False, usage=None, sans=None):
        b = (x509.CertificateBuilder()
             .subject_name(subject).issuer_name(issuer).public_key(public_key)
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5))
             .not_valid_after(now + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(signer, hashes.SHA256())

    def write_cert(c, path: Path) -> None:
        path.write_bytes(c.public_bytes(serialization.Encoding.PEM))

    ca_key = key()
    ca_name = name("labkit-local-ca")
    write_key(ca_key, pki.ca_key)
    write_cert(cert(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True), pki.ca_crt)

    server_key = key()
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("10.96.0.1")),  # the `kubernetes` Service
            *(x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                        "kubernetes.default.svc",
                                        "kubernetes.default.svc.cluster.local"))]
    write_key(server_key, pki.apiserver_key)
    write_cert(cert(name("kube-apiserver"), server_key.public_key(), ca_name, ca_key,
                    usage=[x509.oid.ExtendedKeyUsageOID.SERVER_AUTH], sans=sans), pki.apiserver_crt)

    # system:masters is the group RBAC lets do everything: this is the admin.
    admin_key = key()
    write_key(admin_key, pki.admin_key)
    write_cert(cert(name("labkit-admin", "system:masters"), admin_key.public_key(), ca_name, ca_key,
                    usage=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), pki.admin_crt)

    # Service-account tokens are JWTs; kube-apiserver signs them with an RSA key.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_key(sa_key, pki.sa_key)
    pki.sa_pub.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return pki
