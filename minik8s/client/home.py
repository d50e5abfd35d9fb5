"""The cluster home ($MINIK8S_HOME) as `minictl up` lays it out and the components find it: `data/`
(the API server's store), `logs/` and `run/` (a log and a pid file per component), and `pki/`: a bearer
token file per identity (`<identity>.token`), the API server's token file (`tokens.csv`, upstream's
static-token CSV `token,user,uid,"group1,group2"`), and, when the API server listens off loopback, a CA
with a server certificate. Every secret is a file readable by its owner alone."""
from __future__ import annotations

import csv
import datetime
import ipaddress
import os
import secrets

SUBDIRS = ("data", "logs", "run", "pki")


def pki_dir(home: str) -> str:
    return os.path.join(home, "pki")


def token_file(home: str, identity: str) -> str:
    return os.path.join(pki_dir(home), f"{identity}.token")


def rest_serving_cert(pki: str) -> tuple[str, str]:
    """(certificate, key) of the REST API's self-signed serving certificate, used when the cluster
    has no CA of its own (a loopback cluster): the API server makes it, kubeconfigs trust it."""
    return os.path.join(pki, "apiserver-rest.crt"), os.path.join(pki, "apiserver-rest.key")


def rest_ca_file(home: str) -> str:
    """The CA that verifies the REST API's serving certificate: the cluster's CA when it has one, else
    the self-signed serving certificate itself."""
    ca = os.path.join(pki_dir(home), "ca.crt")
    return ca if os.path.exists(ca) else rest_serving_cert(pki_dir(home))[0]


def token_csv(home: str) -> str:
    """The API server's token file."""
    return os.path.join(pki_dir(home), "tokens.csv")


def node_identity(node: str) -> str:
    """The identity, and token file name, of a node's kubelet: `node-<name>` unless the name starts so."""
    return node if node.startswith("node-") else f"node-{node}"


def is_loopback(address: str) -> bool:
    """Whether the API server may listen on `address` without TLS."""
    if address in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def write_token_file(path: str, entries: list[tuple[str, str, str, str]]) -> None:
    """Write the API server's token file: (token, user, uid, comma-separated groups) rows."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # replaced whole: a running server re-reads it when a new token arrives, never half-written
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        for e in entries:
            w.writerow(e)
    os.replace(tmp, path)


def ensure_tokens(pki: str, identities: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Give each identity (name -> (user, groups)) a token, keeping existing ones; write the server's
    token file and one `<name>.token` file per identity. Returns name -> token."""
    os.makedirs(pki, mode=0o700, exist_ok=True)
    tokens = {}
    for name in identities:
        path = os.path.join(pki, f"{name}.token")
        if os.path.exists(path):
            with open(path) as f:
                tokens[name] = f.read().strip()
        else:
            tokens[name] = secrets.token_urlsafe(32)
            _write_private(path, tokens[name].encode())
    write_token_file(os.path.join(pki, "tokens.csv"),
                     [(tokens[n], user, n, groups) for n, (user, groups) in identities.items()])
    return tokens


def ensure_ca_and_server_cert(pki: str, hosts: list[str]) -> tuple[str, str, str]:
    """A CA (kept) and a server certificate for `hosts` signed by it. Returns (ca, cert, key) paths."""
    from cryptography import x509          # lazy: only a cluster served off loopback needs it
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_crt, ca_key = os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key")
    srv_crt, srv_key = os.path.join(pki, "apiserver.crt"), os.path.join(pki, "apiserver.key")
    now = datetime.datetime.now(datetime.timezone.utc)
    pem = serialization.Encoding.PEM
    key_format = dict(encoding=pem, format=serialization.PrivateFormat.PKCS8,
                      encryption_algorithm=serialization.NoEncryption())
    if os.path.exists(ca_crt) and os.path.exists(ca_key):
        with open(ca_crt, "rb") as f:
            ca_cert = x509.load_pem_x509_certificate(f.read())
        with open(ca_key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik8s-ca")])
        ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
        _write_private(ca_key, key.private_bytes(**key_format))
        with open(ca_crt, "wb") as f:
            f.write(ca_cert.public_bytes(pem))
    skey = ec.generate_private_key(ec.SECP256R1())
    sans = []
    for h in dict.fromkeys(hosts + ["localhost", "127.0.0.1"]):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik8s-apiserver")]))
            .issuer_name(ca_cert.subject).public_key(skey.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(srv_key, skey.private_bytes(**key_format))
    with open(srv_crt, "wb") as f:
        f.write(cert.public_bytes(pem))
    return ca_crt, srv_crt, srv_key
