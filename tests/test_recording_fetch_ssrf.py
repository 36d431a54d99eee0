"""Recording fetch: an allowed host name that resolves inside our network is refused, and the fetch
connects to the very address it checked.

A stub resolver (socket.getaddrinfo, for the names below only) plays the attacker's DNS. A local
server on 127.0.0.1 stands for what lives inside the network: it must see no request when the
address is refused. The test settings allow loopback for the fake Exotel; the refusals run with that
allowance off, as every deployment has it.
"""

import datetime
import json
import socket
import ssl
import subprocess

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

from recordings.models import RecordingStatus
from recordings.services import recording_fetch
from tests.exotel_fake import MP3, exotel_connection_fixture, exotel_fixture  # noqa: F401
from tests.factories import CallFactory, RecordingFactory
from tests.s3 import local_storage  # noqa: F401
from tests.serving import PYTHON, ROOT, production_env

NAME = "recordings.exotel.example"
pytestmark = pytest.mark.django_db


@pytest.fixture
def dns(monkeypatch):
    """name -> addresses the stub answers, in turn (the last answer repeats); `lookups` counts them."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []
    resolve = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return resolve(host, port, *args, **kwargs)
        lookups.append(host)
        turn = answers[host][min(lookups.count(host), len(answers[host])) - 1]
        if not turn:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in turn
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    dns.answers, dns.lookups = answers, lookups
    return dns


@pytest.fixture(scope="module")
def inside_server():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inside(inside_server):
    """A server on 127.0.0.1 that answers a recording with audio: what an attacker wants to reach."""
    inside_server.clear()
    inside_server.expect_request("/recordings/x.mp3").respond_with_data(MP3, content_type="audio/mpeg")
    yield inside_server
    inside_server.clear()


@pytest.fixture
def pending(exotel_connection, local_storage, settings):  # noqa: F811
    def _pending(url):
        return RecordingFactory(call=CallFactory(client=exotel_connection.client), source_url=url)

    settings.EXOTEL_RECORDING_SCHEMES = ["http", "https"]
    return _pending


def fetched(recording):
    recording_fetch(recording_id=recording.pk)
    recording.refresh_from_db()
    return recording


def test_an_allowed_name_resolving_to_loopback_is_refused_and_nothing_reaches_the_local_server(
    dns, inside, pending, settings
):
    settings.EXOTEL_RECORDING_ALLOW_LOOPBACK = False
    settings.EXOTEL_RECORDING_HOSTS = [f"{NAME}:{inside.port}"]
    dns.answers[NAME] = [["127.0.0.1"]]

    recording = fetched(pending(f"http://{NAME}:{inside.port}/recordings/x.mp3"))

    assert recording.status == RecordingStatus.FAILED and recording.attempts == 1
    assert recording.last_error == (
        f"Recordings are not fetched from {NAME}: it resolves to 127.0.0.1, and 127.0.0.1 is not a public address."
    )
    assert not recording.storage_key
    assert inside.log == []
    assert dns.lookups == [NAME]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (carrier NAT)
        "0.0.0.0",  # noqa: S104 - an address to refuse, never bound
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.9",
        "198.18.0.1",
        "192.0.2.10",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:db8::1",
        "64:ff9b:1::a00:1",  # local-use NAT64
    ],
)
def test_every_address_that_is_not_public_is_refused(dns, inside, pending, settings, address):
    settings.EXOTEL_RECORDING_ALLOW_LOOPBACK = False
    settings.EXOTEL_RECORDING_HOSTS = [NAME]
    dns.answers[NAME] = [[address]]

    recording = fetched(pending(f"https://{NAME}/recordings/x.mp3"))

    assert recording.status == RecordingStatus.FAILED
    assert f"it resolves to {address}" in recording.last_error and "not a public address" in recording.last_error
    assert inside.log == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns, inside, pending, settings):
    settings.EXOTEL_RECORDING_ALLOW_LOOPBACK = False
    settings.EXOTEL_RECORDING_HOSTS = [f"{NAME}:{inside.port}"]
    dns.answers[NAME] = [["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "127.0.0.1"]]

    recording = fetched(pending(f"http://{NAME}:{inside.port}/recordings/x.mp3"))

    assert recording.status == RecordingStatus.FAILED and "resolves to 127.0.0.1" in recording.last_error
    assert inside.log == []


def test_a_literal_address_in_the_url_is_checked_too(inside, pending, settings):
    settings.EXOTEL_RECORDING_ALLOW_LOOPBACK = False
    settings.EXOTEL_RECORDING_HOSTS = [f"127.0.0.1:{inside.port}", "::ffff:7f00:1"]

    first = fetched(pending(f"http://127.0.0.1:{inside.port}/recordings/x.mp3"))
    second = fetched(pending("http://[::ffff:7f00:1]/recordings/x.mp3"))

    assert first.status == second.status == RecordingStatus.FAILED
    assert first.last_error == "Recordings are not fetched from 127.0.0.1: 127.0.0.1 is not a public address."
    assert "::ffff:7f00:1 is not a public address" in second.last_error
    assert inside.log == []


def test_a_redirect_to_a_name_resolving_inside_is_refused_before_it_is_followed(dns, exotel, pending, inside, settings):
    # The first hop is the fake Exotel on loopback (allowed in tests); the redirect's target is checked again.
    settings.EXOTEL_RECORDING_HOSTS = [exotel.host, NAME]
    dns.answers[NAME] = [["169.254.169.254"]]
    url = exotel.add_recording("x.mp3")
    exotel.script("/recordings/x.mp3", (302, {"Location": f"http://{NAME}/latest/meta-data/iam/"}))

    recording = fetched(pending(url))

    assert recording.status == RecordingStatus.FAILED and "resolves to 169.254.169.254" in recording.last_error
    assert [r.path for r in exotel.requests] == ["/recordings/x.mp3"]


def test_it_connects_to_the_address_it_checked_without_a_second_lookup(dns, inside, pending, settings):
    """DNS rebinding: the first answer is the checked one; a later lookup would say 10.0.0.1."""
    settings.EXOTEL_RECORDING_HOSTS = [f"{NAME}:{inside.port}"]
    dns.answers[NAME] = [["127.0.0.1"], ["10.0.0.1"]]

    recording = fetched(pending(f"http://{NAME}:{inside.port}/recordings/x.mp3"))

    assert recording.status == RecordingStatus.STORED, recording.last_error
    assert dns.lookups == [NAME]
    [(request, _response)] = inside.log
    assert request.headers["Host"] == f"{NAME}:{inside.port}"  # the name, though the connection went to the address


def test_an_unresolvable_name_is_retried_later(dns, pending, settings):
    settings.EXOTEL_RECORDING_HOSTS = [NAME]
    dns.answers[NAME] = [[]]

    recording = fetched(pending(f"https://{NAME}/recordings/x.mp3"))

    assert recording.status == RecordingStatus.PENDING and f"Could not resolve {NAME}" in recording.last_error


# --- TLS: the certificate is verified against the name, not the address ------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A test CA, and certificates it signed for NAME and for another name."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, issuer_key, issuer_name, public_key, *, ca: bool, san: str | None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Caly test CA")])
    ca = certificate("Caly test CA", ca_key, ca_name, ca_key.public_key(), ca=True, san=None)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths = {"ca": folder / "ca.pem"}
    for label, name in (("right", NAME), ("wrong", "elsewhere.example")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificate(name, ca_key, ca_name, key.public_key(), ca=False, san=name)
        pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (folder / f"{label}.pem").write_bytes(pem)
        paths[label] = folder / f"{label}.pem"
    return paths


@pytest.fixture
def tls_server(certificates, monkeypatch):
    """An HTTPS server on 127.0.0.1 with the certificate asked for; the client trusts the test CA."""
    monkeypatch.setattr(certifi, "where", lambda: str(certificates["ca"]))
    servers = []

    def start(label: str) -> HTTPServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates[label])
        server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
        server.expect_request("/recordings/x.mp3").respond_with_data(MP3, content_type="audio/mpeg")
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.clear()
        server.stop()


def test_over_tls_the_certificate_is_checked_against_the_name_at_the_checked_address(
    dns, tls_server, pending, settings
):
    server = tls_server("right")
    settings.EXOTEL_RECORDING_HOSTS = [f"{NAME}:{server.port}"]
    dns.answers[NAME] = [["127.0.0.1"]]

    recording = fetched(pending(f"https://{NAME}:{server.port}/recordings/x.mp3"))

    assert recording.status == RecordingStatus.STORED, recording.last_error
    [(request, _response)] = server.log
    assert request.headers["Host"] == f"{NAME}:{server.port}"


def test_over_tls_a_certificate_for_another_name_is_refused(dns, tls_server, pending, settings):
    server = tls_server("wrong")
    settings.EXOTEL_RECORDING_HOSTS = [f"{NAME}:{server.port}"]
    dns.answers[NAME] = [["127.0.0.1"]]

    recording = fetched(pending(f"https://{NAME}:{server.port}/recordings/x.mp3"))

    assert recording.status != RecordingStatus.STORED and "ConnectError" in recording.last_error
    assert server.log == []


# --- the allowance is for tests only ---------------------------------------------------------------


def test_production_settings_do_not_allow_loopback(tmp_path):
    probe = "from django.conf import settings; import json; print(json.dumps(settings.EXOTEL_RECORDING_ALLOW_LOOPBACK))"
    result = subprocess.run(
        [PYTHON, "-c", f"import django; django.setup(); {probe}"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) is False
