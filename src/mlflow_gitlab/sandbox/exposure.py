"""Who can reach the sandbox: loopback or not, and the address others reach it at.

The sandbox hands out tokens and writes whatever its callers send, so listening beyond
loopback is worth a warning, and the URL it prints must be one that works from elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket

_WILDCARDS = ("", "0.0.0.0", "::")
# Any address of a network that is not this machine: a UDP "connect" sends nothing, it only
# asks the kernel which local address would be used to get there.
_PROBES = (("10.255.255.255", socket.AF_INET), ("fd00::1", socket.AF_INET6))


def is_loopback(host: str) -> bool:
    """True for `127.0.0.0/8`, `::1` and `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def reachable_host(bound: str) -> str:
    """The address to put in the sandbox's URL for a server bound to `bound`.

    A wildcard (`0.0.0.0`, `::`) is no address to connect to: it becomes this machine's
    primary address, as seen from its network (loopback only when it has no network).
    """
    if bound not in _WILDCARDS:
        return bound
    family = socket.AF_INET6 if bound == "::" else socket.AF_INET
    for probe, probe_family in _PROBES:
        if probe_family != family:
            continue
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                address = sock.getsockname()[0]
        except OSError:
            continue
        if not is_loopback(address):
            return address
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        address = "127.0.0.1"
    return address if family == socket.AF_INET else "::1"


def exposure_warning(host: str, url: str) -> str | None:
    """The warning to print when `host` is not a loopback address, else None."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in _WILDCARDS else host
    return (f"warning: listening on {where}: anyone who can reach {url} can use the sandbox "
            "(its control routes need the admin token of the ready JSON); use --host "
            "127.0.0.1 to keep it on this machine")
