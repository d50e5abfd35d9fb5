"""The REST API's serving certificate when the cluster has no CA (a loopback cluster): kubectl sends a
bearer token only over TLS, so the REST API always serves HTTPS. The certificate is self-signed for
the listen address, 127.0.0.1 and localhost, and for the names in-cluster clients use (the `kubernetes`
Service's ClusterIP, `kubernetes.default.svc` ...), kept under HOME/pki so a kubeconfig that trusts it
stays valid across restarts; a certificate lacking the ClusterIP is made again.

The API server checks and makes it in a child process (`in_child`): cryptography would otherwise stay
in the server's memory for its whole life (about 8 MB) for work done once at start."""
from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys

from minik8s.client.home import rest_serving_cert


IN_CLUSTER_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local")


def _names_ip(cert_path: str, ip: str) -> bool:
    from cryptography import x509
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    return ipaddress.ip_address(ip) in sans.get_values_for_type(x509.IPAddress)


def self_signed(pki: str, address: str, service_ip: str = "") -> tuple[str, str]:
    """(certificate file, key file), made on first use."""
    cert_path, key_path = rest_serving_cert(pki)
    if os.path.exists(cert_path) and os.path.exists(key_path) and (not service_ip or _names_ip(cert_path, service_ip)):
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik8s-apiserver")])
    sans: list = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    sans += [x509.DNSName(n) for n in IN_CLUSTER_NAMES]
    if service_ip:
        sans.append(x509.IPAddress(ipaddress.ip_address(service_ip)))
    try:
        ip = ipaddress.ip_address(address)
        if str(ip) != "127.0.0.1":
            sans.append(x509.IPAddress(ip))
    except ValueError:
        if address and address != "localhost":
            sans.append(x509.DNSName(address))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    os.makedirs(pki, mode=0o700, exist_ok=True)
    fd = os.open(key_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path + ".tmp", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(key_path + ".tmp", key_path)
    os.replace(cert_path + ".tmp", cert_path)
    return cert_path, key_path


def in_child(pki: str, address: str, service_ip: str = "") -> tuple[str, str]:
    """`self_signed`, run as `python -m apiserver.rest.certs PKI ADDRESS SERVICE_IP`."""
    done = subprocess.run([sys.executable, "-m", "apiserver.rest.certs", pki, address, service_ip],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"cannot make the REST serving certificate: {done.stderr.strip()[-2000:]}")
    cert_path, key_path = done.stdout.split()
    return cert_path, key_path


if __name__ == "__main__":
    print(*self_signed(*sys.argv[1:4]), sep="\n")
