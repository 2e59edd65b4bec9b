"""DNS names as the records and renderings compare them: lowercase, absolute or
relative to a zone, label-wise containment."""

from __future__ import annotations


def bare(name: str) -> str:
    """`Mail.Example.NL.` -> `mail.example.nl`."""
    return name.strip().rstrip(".").lower()


def absolute(name: str) -> str:
    """`Mail.Example.NL` -> `mail.example.nl.`."""
    return bare(name) + "."


def within(name: str, zone: str) -> bool:
    """Is `name` the zone apex or below it (label-wise, not string-wise)?"""
    name, zone = bare(name), bare(zone)
    return name == zone or name.endswith("." + zone)


def relative_name(name: str, zone: str) -> str:
    """`@`, `mail._domainkey`, ...; a name outside the zone stays absolute."""
    full, apex = bare(name), bare(zone)
    if full == apex:
        return "@"
    if full.endswith("." + apex):
        return full[: -len(apex) - 1]
    return absolute(name)
