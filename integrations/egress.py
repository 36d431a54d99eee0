"""Where Caly's own outbound requests may go: public addresses only, checked once and connected to as checked.

Shared by everything that sends a request to a URL someone else chose (a recording's URL in an Exotel
callback, a client's webhook endpoint). A name is resolved once; every address it resolves to must be
public (one private answer is enough to refuse: which address a client picks is not ours to guess), and
the request then goes to that very address, with the name in the Host header and, over TLS, as the
server name the certificate is verified against: no second lookup that a short-lived DNS answer
(rebinding) could change.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import time

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}
# Not public, whatever a version of `ipaddress` says of them: shared address space (carrier NAT),
# IETF protocol assignments, benchmarking, documentation, 6to4 relays, "this network", the old class E.
NOT_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "::/96",
        "100::/64",
        "64:ff9b:1::/48",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fec0::/10",
    )
)
# IPv6 addresses that carry an IPv4 address a NAT64 gateway delivers to: that address must be public too.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The host is, or resolves to, an address Caly does not connect to."""


class AddressUnresolved(Exception):
    """The host's name could not be resolved (worth trying again later)."""


def address_problem(address: str, *, allow_loopback: bool) -> str | None:
    """Why Caly will not connect to the IP `address`, or None when it is public.

    Refused: loopback (unless `allow_loopback`, which only test and local settings turn on), private,
    link-local (cloud metadata), multicast, reserved, unspecified, shared (100.64/10) and the other
    special ranges, and an IPv6 address embedding an IPv4 one (mapped, 6to4, NAT64) that is any of these.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) says nothing of the address
    if ip.is_loopback and allow_loopback:
        return None
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            candidates.append(embedded)
    for candidate in candidates:
        special = (
            candidate.is_loopback
            or candidate.is_private
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or any(candidate in network for network in NOT_PUBLIC_NETWORKS if network.version == candidate.version)
        )
        if special or not candidate.is_global:
            return f"{ip} is not a public address."
    return None


def resolve_public(url: httpx.URL, *, allow_loopback: bool) -> list[str]:
    """The addresses `url`'s host resolves to, once; AddressRefused unless every one is public,
    AddressUnresolved when there is no answer."""
    host = url.raw_host.decode("ascii")
    try:
        answers = socket.getaddrinfo(host, url.port or DEFAULT_PORTS[url.scheme], type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressUnresolved(f"Could not resolve {host} ({exc}).") from None
    addresses = list(dict.fromkeys(answer[4][0] for answer in answers))
    if not addresses:
        raise AddressUnresolved(f"Could not resolve {host}.")
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem:
            resolved = "" if address == host else f"it resolves to {address}, and "
            raise AddressRefused(f"{host}: {resolved}{problem}")
    return addresses


def send_pinned(http: httpx.Client, request_for, url: httpx.URL, *, allow_loopback: bool, **send_kwargs):
    """Send the request `request_for(address_url, headers, extensions)` builds to an address `url`'s host
    resolved to (all of them checked), trying each in turn while none could be connected to.

    Raises AddressRefused, AddressUnresolved, or httpx's errors.
    """
    headers = {"Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    addresses = resolve_public(url, allow_loopback=allow_loopback)  # never empty
    for address in addresses[:-1]:
        try:
            return http.send(request_for(url.copy_with(host=address), headers, extensions), **send_kwargs)
        except httpx.ConnectError:  # nothing was sent: the next address may answer
            continue
    return http.send(request_for(url.copy_with(host=addresses[-1]), headers, extensions), **send_kwargs)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds, whether the server sent seconds or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
