"""The outbound-request policy: where the server may send a request on a user's behalf.

Every server-side fetch whose address a user chose (the ``http_json``, ``ckan`` and ``dcat`` sources,
the ``ckan`` push target, webhooks, harvesting) goes through a :class:`Policy`'s session. It refuses
addresses that are not globally routable — loopback, private (RFC 1918, ULA), link-local (which holds
the cloud metadata address ``169.254.169.254``), shared (CGNAT), reserved, multicast, unspecified —
and IPv6 addresses that embed one (IPv4-mapped ``::ffff:127.0.0.1``, 6to4, NAT64, Teredo), unless the
allowlist names the host or the range.

How the session keeps to it:

* the name is resolved **once** per request (``getaddrinfo``, so ``2130706433`` and ``0177.0.0.1``
  are read as the C library reads them: 127.0.0.1), **every** address it resolves to is checked, and
  the connection goes to the checked address (pinned: a name that resolves elsewhere a moment later —
  DNS rebinding — changes nothing). The ``Host`` header, TLS SNI and the certificate check keep the
  name;
* every redirect hop is a new request through the same check;
* proxies from the environment and ``.netrc`` are ignored (``trust_env`` off): the policy, not the
  process environment, decides where requests go.

Addresses are classified with the standard library's :mod:`ipaddress` (the IANA special-purpose
registries), not with string tests. A refusal raises :class:`OutboundRefused`, a
``requests.RequestException`` that is *not* a connection error (nothing to retry), whose message names
the host, the address and the setting that would allow it.

Allowlist entries (comma-separated): a host name (``data.county.gov.cn``), an address (``10.1.2.3``,
``::1``), a range (``10.0.0.0/8``), each optionally with a port (``127.0.0.1:5000``,
``[::1]:5000``, ``peer.internal:8443``). A listed name is trusted whatever it resolves to; a listed
address or range allows exactly those addresses.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

__all__ = ["OutboundRefused", "Policy", "forbidden_kind"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_-]{1,63})*$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


class OutboundRefused(requests.RequestException):
    """The policy refused a request's address; the message says which host, which address and why.

    ``host`` and ``port`` are the URL's; ``address`` the refused address it named or resolved to.
    """

    def __init__(self, message: str, *, host: str = "", port: int = 0, address: str = ""):
        super().__init__(message)
        self.host, self.port, self.address = host, port, address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, Teredo client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def forbidden_kind(address: IPAddress) -> str | None:
    """Why ``address`` is unfit for a user-chosen request ("a loopback address"…), or ``None``."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            kind = forbidden_kind(inner)
            if kind is not None:
                return f"an IPv6 address embedding {inner}, {kind}"
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return {"link_local": "a link-local address (where cloud metadata is served)",
                    "unspecified": "an unspecified address"}.get(kind, f"a {kind} address")
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


@dataclass(frozen=True)
class _Allowed:
    """One allowlist entry: a host name or a network, and a port (``None``: any)."""

    text: str
    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def allows_name(self, name: str, port: int) -> bool:
        return self.name is not None and self.name == name and self.port in (None, port)

    def allows_address(self, address: IPAddress, port: int) -> bool:
        return (self.network is not None and address.version == self.network.version
                and address in self.network and self.port in (None, port))


def _parse_entry(text: str) -> _Allowed:
    """One allowlist entry; ValueError names it when it is neither a host, an address nor a range."""
    entry, port = text.strip(), None
    if "/" in entry:
        try:
            return _Allowed(text, network=ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an address range (e.g. 10.0.0.0/8)") from None
    bracketed = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?", entry)
    if bracketed:
        entry, port = bracketed.group(1), bracketed.group(2)
    elif entry.count(":") == 1:
        entry, _, port = entry.partition(":")
    if port is not None and not (str(port).isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    port = int(port) if port is not None else None
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        name = entry.lower().rstrip(".")
        if not _HOST_NAME.match(name):
            raise ValueError(f"{text!r} is not a host name, an address or a range") from None
        return _Allowed(text, name=name, port=port)
    return _Allowed(text, network=ipaddress.ip_network(address), port=port)


@dataclass(frozen=True)
class Policy:
    """Which addresses user-chosen requests may reach: every global one, plus the allowlist.

    ``setting`` names where an operator widens the allowlist, for refusal messages.
    """

    allow: tuple[_Allowed, ...] = ()
    setting: str = "the outbound allowlist"

    @classmethod
    def parse(cls, entries: str | Iterable[str] | None, *, setting: str = "the outbound allowlist") -> "Policy":
        """The policy allowing ``entries`` (a comma-separated text or a list); ValueError names a bad one."""
        if entries is None:
            entries = []
        if isinstance(entries, str):
            entries = entries.split(",")
        return cls(allow=tuple(_parse_entry(e) for e in entries if e and e.strip()), setting=setting)

    # --- checks ------------------------------------------------------------------------------

    def _refusal(self, name: str, port: int, address: IPAddress) -> str | None:
        kind = forbidden_kind(address)
        if kind is None or any(a.allows_address(address, port) for a in self.allow):
            return None
        shown = (f"[{name}]" if ":" in name else name) + f":{port}" + ("" if name == str(address) else f" ({address})")
        return (f"requests to {shown} are refused: {kind}; outbound requests reach only public "
                f"addresses unless {self.setting} lists the host or its range")

    def refusal_for_url(self, url: str) -> str | None:
        """Why ``url`` may never be fetched, judged without DNS: its host is an address the policy
        refuses (``127.0.0.1``, ``[::1]``, ``2130706433``…). Names are judged when fetched."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return None  # malformed: the field's own validation says so
        if not host:
            return None
        port = port or _DEFAULT_PORTS.get(parts.scheme, 0)
        if any(a.allows_name(host.rstrip("."), port) for a in self.allow):
            return None
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError):
            return None  # a name, not an address
        for *_rest, sockaddr in found:
            problem = self._refusal(host, port, ipaddress.ip_address(sockaddr[0].split("%")[0]))
            if problem:
                return problem
        return None

    def address_for(self, host: str, port: int) -> str:
        """The one address a request to ``host:port`` connects to; OutboundRefused when any address the
        name resolves to is refused (a name with one internal address among public ones is refused)."""
        name = host.lower().rstrip(".")
        try:
            found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise requests.ConnectionError(f"cannot resolve {host}: {error}") from None
        addresses = [ipaddress.ip_address(sockaddr[0].split("%")[0]) for *_rest, sockaddr in found]
        if not addresses:
            raise requests.ConnectionError(f"cannot resolve {host}: no address")
        if not any(a.allows_name(name, port) for a in self.allow):
            for address in addresses:
                problem = self._refusal(host, port, address)
                if problem:
                    raise OutboundRefused(problem, host=host, port=port, address=str(address))
        return str(addresses[0])

    # --- the session -------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A ``requests`` session whose every request (and redirect hop) keeps to this policy."""
        session = requests.Session()
        session.trust_env = False
        adapter = _PinnedAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class _PinnedAdapter(HTTPAdapter):
    """Checks the address of each request and connects to that very address (see the module doc)."""

    def __init__(self, policy: Policy):
        self.policy = policy
        super().__init__()

    def send(self, request, **kwargs):
        """Resolve and check the request's host, then send it to the checked address."""
        parts = urlsplit(request.url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise OutboundRefused(f"requests to {request.url!r} are refused: only http(s) URLs with a host",
                                  host=parts.hostname or "")
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        pinned = request.copy()
        pinned.headers["Host"] = parts.netloc.rpartition("@")[2]
        pinned.outbound_address = self.policy.address_for(parts.hostname, port)
        kwargs["proxies"] = {}
        return super().send(pinned, **kwargs)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        """The pool of the pinned address; TLS still sends and checks the URL's host name."""
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        name = host_params["host"]
        host_params = {**host_params, "host": request.outbound_address}
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": name, "assert_hostname": name}
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)
