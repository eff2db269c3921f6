"""HTTPS on a developer's machine: a local certificate authority (made once, kept in a
file, reused on every start so clients keep trusting it), the server certificate it
issues, a user's own certificate and key, and the client side that trusts the CA.

The CA lives in two PEM files: the certificate at ``--tls-ca PATH`` (what clients are
told to trust: ``curl --cacert PATH``) and its private key beside it, ``key_path(PATH)``
(``musicsim-ca.pem`` → ``musicsim-ca-key.pem``, mode 0600). A ``PATH`` that holds both the
certificate and the key in one PEM file is accepted too.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_CA_FILE = "musicsim-ca.pem"
LOCAL_NAMES = ("127.0.0.1", "::1", "localhost")
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_CERT_BLOCK = b"-----BEGIN CERTIFICATE-----"
_KEY_BLOCK = re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")
# A fresh server certificate is issued on every start; a year keeps it inside what
# browsers and macOS accept for a leaf (825 days at most).
LEAF_DAYS = 365


class TLSError(ValueError):
    """A TLS setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ServerTLS:
    """How the server speaks HTTPS: its SSL context and, with a local CA, where the CA's
    certificate and key are and the CA's certificate itself."""

    context: ssl.SSLContext
    ca_path: Path | None = None      # the local CA's certificate (None: the user's own pair)
    ca_key_path: Path | None = None
    ca_pem: bytes | None = None
    created: bool = False            # the CA was made on this start (not reused)
    cert_path: Path | None = None    # the user's own certificate


def key_path(ca_path: str | os.PathLike) -> Path:
    """Where the CA's private key is kept: beside its certificate, ``NAME-key.SUFFIX``."""
    path = Path(ca_path)
    suffix = path.suffix or ".pem"
    return path.with_name(f"{path.stem if path.suffix else path.name}-key{suffix}")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TLSError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None


def load_ca(ca_path: str | os.PathLike, what: str = "--tls-ca"):
    """The CA kept at ``ca_path`` (certificate there, key beside it or in the same file),
    as a ``trustme.CA`` that can issue certificates, and the file its key was read from."""
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    path = Path(ca_path).expanduser()
    cert_pem = _read(path, what)
    if _CERT_BLOCK not in cert_pem:
        raise TLSError(f"{what} {path}: not a PEM certificate")
    if _KEY_BLOCK.search(cert_pem):
        key_pem, key_file = cert_pem, path
    else:
        key_file = key_path(path)
        if not key_file.exists():
            raise TLSError(f"{what} {path}: its private key {key_file} is missing (the key "
                           f"may also be in {path.name} itself); remove {path} to make a new CA")
        key_pem = _read(key_file, f"{what} key")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TLSError(f"{what} {path}: not a PEM certificate and key ({exc})") from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise TLSError(f"{what} {path}: not a certificate authority's certificate")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (cert.public_key().public_bytes(serialization.Encoding.PEM, public)
            != key.public_key().public_bytes(serialization.Encoding.PEM, public)):
        raise TLSError(f"{what} {path}: the key in {key_file} does not belong to it")
    return trustme.CA.from_pem(cert_pem, key_pem), key_file


def local_ca(ca_path: str | os.PathLike):
    """The CA at ``ca_path``, made (and written there, key beside it) if there is none;
    the file holding its key; and whether it was made now."""
    import trustme

    path = Path(ca_path).expanduser()
    if path.exists():
        return (*load_ca(path), False)
    ca = trustme.CA(organization_name="musicsim",
                    organization_unit_name=f"musicsim local development CA ({socket.gethostname()})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(key_path(path), ca.private_key_pem.bytes(), 0o600)
        _write(path, ca.cert_pem.bytes(), 0o644)
    except OSError as exc:
        raise TLSError(f"--tls-ca {path}: cannot write the CA there "
                       f"({exc.strerror or exc})") from None
    return ca, key_path(path), True


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file and rename, so no reader sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _usable(identity: str) -> bool:
    try:
        ipaddress.ip_address(identity)
        return True
    except ValueError:
        return bool(_HOSTNAME.fullmatch(identity))


def identities(host: str, public_url: str | None = None) -> list[str]:
    """What the server certificate names: the loopback names, the bound host (the
    machine's names when it binds every address) and a --public-url's host."""
    names = list(LOCAL_NAMES)
    extra = [host.strip("[]")]
    if host.strip("[]") in _WILDCARD_HOSTS:
        extra = [socket.gethostname()]  # (a --public-url names any other)
    if public_url:
        try:
            extra.append(urlsplit(public_url).hostname or "")
        except ValueError:
            pass
    for name in extra:
        if name and name not in _WILDCARD_HOSTS and name not in names and _usable(name):
            names.append(name)
    return names


def leaf_context(ca, names: list[str]) -> ssl.SSLContext:
    """A server SSL context with a fresh certificate from ``ca`` for ``names``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = ca.issue_cert(*names, organization_name="musicsim",
                         not_before=now - datetime.timedelta(days=1),
                         not_after=now + datetime.timedelta(days=LEAF_DAYS))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


def _no_password() -> bytes:
    raise TLSError("encrypted")


def own_pair_context(cert: str | os.PathLike, key: str | os.PathLike) -> ssl.SSLContext:
    """A server SSL context with the user's own PEM certificate (chain) and key."""
    cert_path, key_path_ = Path(cert).expanduser(), Path(key).expanduser()
    if _CERT_BLOCK not in _read(cert_path, "--tls-cert"):
        raise TLSError(f"--tls-cert {cert_path}: not a PEM certificate")
    if not _KEY_BLOCK.search(_read(key_path_, "--tls-key")):
        raise TLSError(f"--tls-key {key_path_}: not a PEM private key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert_path, key_path_, password=_no_password)
    except TLSError:
        raise TLSError(f"--tls-key {key_path_}: the key is encrypted; give an unencrypted "
                       f"one (openssl pkey -in KEY -out KEY.plain)") from None
    except ssl.SSLError as exc:
        reason = ("the key does not match the certificate"
                  if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc)
                  else f"not a usable PEM certificate and key ({exc.reason or exc})")
        raise TLSError(f"--tls-cert {cert_path} / --tls-key {key_path_}: {reason}") from None
    return context


def check_settings(*, tls: bool, tls_ca: str | None, tls_cert: str | None,
                   tls_key: str | None) -> None:
    """The combinations that make no sense, as clear errors."""
    if tls_ca and (tls_cert or tls_key):
        raise TLSError("--tls-ca (a local CA) and --tls-cert/--tls-key (your own "
                       "certificate) are alternatives; give one or the other")
    if bool(tls_cert) != bool(tls_key):
        given, missing = ("--tls-cert", "--tls-key") if tls_cert else ("--tls-key", "--tls-cert")
        raise TLSError(f"{given} needs {missing} too: give the certificate and its key")


def server_tls(settings) -> ServerTLS | None:
    """The server's TLS as the settings ask for it, or None for plain HTTP."""
    check_settings(tls=settings.tls, tls_ca=settings.tls_ca, tls_cert=settings.tls_cert,
                   tls_key=settings.tls_key)
    if settings.tls_cert:
        return ServerTLS(own_pair_context(settings.tls_cert, settings.tls_key),
                         cert_path=Path(settings.tls_cert).expanduser().resolve())
    if not settings.tls_enabled:
        return None
    path = Path(settings.tls_ca or DEFAULT_CA_FILE).expanduser().resolve()
    ca, keys, created = local_ca(path)
    context = leaf_context(ca, identities(settings.host, settings.public_url))
    return ServerTLS(context, ca_path=path, ca_key_path=keys, ca_pem=ca.cert_pem.bytes(),
                     created=created)


def client_context(ca_pem: bytes | None = None) -> ssl.SSLContext:
    """A client SSL context trusting the system's store and, in addition, ``ca_pem``."""
    context = ssl.create_default_context()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    return context


def trust_hint(ca_path: Path) -> str:
    return (f"trust it: curl --cacert {ca_path} …, or SSL_CERT_FILE={ca_path} "
            f"(Python, httpx, aiohttp), REQUESTS_CA_BUNDLE={ca_path} (requests)")
