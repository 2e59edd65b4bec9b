"""Checks of single config values, each derived from where the value is used.

A check takes the parsed value and returns None, or what is wrong with it as
a phrase the loader puts after "At 'section.key': ". Secrets are never
echoed. The checks are pure and cheap; the few that need a heavier module
(domain names, IP addresses) import it when they run. The DNS record
templates have their own module, mailctl.core.recordchecks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailctl.model.servers import DATABASE_BACKENDS

# Managed files name these paths inside table lines and config values.
_CONFIG_PATH = re.compile(r"/[^\s\"'<>]*")  # SNI map and Dovecot values (render.postfix)
_KEY_DIR = re.compile(r"/[^\s:]*")  # KeyTable's third field (render.opendkim)
# Written unquoted into main.cf and Dovecot's config (setup.sqlmaps).
_UNQUOTED_PATH = re.compile(r"/[A-Za-z0-9._~+/=-]*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_UNIX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
# `dkim rotate` appends the date and a letter (mail -> mail20261125b), and the
# selector column holds 63 characters, one DNS label.
MAX_SELECTOR = 63 - len("20261125b")
EXAMPLE_DOMAIN = "example.nl"  # what {domain} stands for while checking a template


# ------------------------------------------------------------------ paths


def path(value: str) -> str | None:
    """An absolute path of printable characters (no NUL, no line break)."""
    if not value:
        return "must not be empty (an absolute path)"
    if not value.startswith("/"):
        return f"must be an absolute path, not {value!r}"
    if not value.isprintable():
        return f"must not contain control characters such as NUL or a line break: {value!r}"
    return None


def optional_path(value: str) -> str | None:
    """Empty, or an absolute path."""
    return path(value) if value else None


def unquoted_path(value: str) -> str | None:
    """A path that Postfix's and Dovecot's configs take unquoted."""
    if problem := path(value):
        return problem
    if not _UNQUOTED_PATH.fullmatch(value):
        return (
            f"{value!r} cannot be written unquoted into Postfix and Dovecot configuration"
            " (use letters, digits and ._~+/=- only)"
        )
    return None


def key_dir(value: str) -> str | None:
    """A directory whose key paths go into OpenDKIM's KeyTable."""
    if problem := path(value):
        return problem
    if not _KEY_DIR.fullmatch(value):
        return f"must not contain blanks or ':' (KeyTable lines would break): {value!r}"
    return None


def per_domain_file(value: str) -> str | None:
    """A certificate or key path pattern: absolute, with {domain}, fit for the SNI tables."""
    if "{domain}" not in value:
        return f"must contain {{domain}} (one file per domain): {value!r}"
    if problem := path(value):
        return problem
    if not _CONFIG_PATH.fullmatch(value.replace("{domain}", EXAMPLE_DOMAIN)):
        return f"must not contain blanks, quotes, '<' or '>' (SNI tables would break): {value!r}"
    return None


# ------------------------------------------------------------------ names


def _domain_problem(value: str) -> str | None:
    from mailctl.errors import InvalidName
    from mailctl.model.names import normalize_domain

    try:
        stored = normalize_domain(value)
    except InvalidName as exc:
        return str(exc)
    if stored != value.lower():
        return f"must be written {stored!r} (ASCII, no blanks or trailing dot), not {value!r}"
    return None


def host_name(value: str) -> str | None:
    """A fully qualified host name as Postfix and DNS take it: LDH labels, A-labels."""
    problem = _domain_problem(value)
    return f"must be a fully qualified host name: {problem}" if problem else None


def domain(value: str) -> str | None:
    problem = _domain_problem(value)
    return f"must be a domain name: {problem}" if problem else None


def selector(value: str) -> str | None:
    """A DKIM selector: one DNS label that dated rotation selectors still fit."""
    if not _LABEL.fullmatch(value) or not value.isascii():
        return f"must be one DNS label (letters, digits, inner hyphens): {value!r}"
    if len(value) > MAX_SELECTOR:
        return (
            f"must be at most {MAX_SELECTOR} characters, so that rotated selectors"
            f" ({value[:8]}…20261125b) stay one DNS label"
        )
    return None


def unix_name(value: str) -> str | None:
    """A user or group name (useradd's rules: at most 32 characters)."""
    if not _UNIX_NAME.fullmatch(value) or not value.isascii():
        return f"must be a user or group name such as opendkim, not {value!r}"
    return None


def address(value: str) -> str | None:
    """Empty, or a mail address."""
    if not value:
        return None
    from mailctl.errors import InvalidName
    from mailctl.model.names import parse_address

    if value != value.strip():
        return f"must not have blanks around it: {value!r}"
    try:
        parse_address(value)
    except InvalidName as exc:
        return f"must be a mail address: {exc}"
    return None


def ipv4(value: str) -> str | None:
    """An IPv4 address; empty means none (then server.ipv6 must be set)."""
    if not value:
        return None
    import ipaddress

    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return f"must be an IPv4 address such as 203.0.113.10, not {value!r}"
    return None


def ipv6(value: str) -> str | None:
    """An IPv6 address, or empty when the server has none."""
    if not value:
        return None
    import ipaddress

    try:
        if "%" in value:
            raise ValueError(value)  # a scope (fe80::1%eth0) is no public address
        ipaddress.IPv6Address(value)
    except ValueError:
        return f"must be an IPv6 address such as 2001:db8::10, or empty; not {value!r}"
    return None


# ------------------------------------------------------------------ SQL and commands


DB_BACKENDS = DATABASE_BACKENDS


def database_url(value: str) -> str | None:
    """A URL SQLAlchemy parses, of a backend mailctl supports. Never echoes the URL."""
    from mailctl.store.url import URL

    if not value.isprintable():
        return "must not contain control characters"
    match = URL.fullmatch(value)  # SQLAlchemy's grammar (store.url), without SQLAlchemy
    if match is None:
        return "must be a database URL such as mysql+pymysql://user@host/db or sqlite:///path"
    backend = match["name"].partition("+")[0].lower()
    if backend not in DB_BACKENDS:
        return f"must be a {', '.join(DB_BACKENDS[:-1])} or {DB_BACKENDS[-1]} URL, not {backend}"
    port = match["port"] or ""
    if port and not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
        return "has an invalid port (1-65535)"
    return None


def optional_database_url(value: str) -> str | None:
    return database_url(value) if value else None


def failover_hosts(value: list[str]) -> str | None:
    """host or host:port entries ([IPv6]:port), as store.url reads them."""
    from mailctl.errors import DatabaseError
    from mailctl.store.url import split_host_port

    for entry in value:
        if not (entry.isascii() and entry.isprintable()):
            return f"invalid host {entry!r}: a host name or address, then :port"
        try:
            split_host_port(entry)
        except DatabaseError as exc:
            return str(exc)
    return None


HOST_ROLES = ("mx", "submission", "imap")


def host_label(value: str) -> str | None:
    """Empty (the machine's hostname), or a host name: how `host list` names this host."""
    if not value:
        return None
    labels = value.removesuffix(".").split(".")
    if len(value) > 255 or not value.isascii() or not all(_LABEL.fullmatch(x) for x in labels):
        return f"must be a host name such as mx2.example.nl, not {value!r}"
    return None


def host_roles(value: list[str]) -> str | None:
    """A subset of mx, submission and imap, each named once; [] serves no mail."""
    for role in value:
        if role not in HOST_ROLES:
            return f"{role!r} is no role: use {', '.join(HOST_ROLES)}"
    if len(set(value)) != len(value):
        return f"names a role twice: {value!r}"
    return None


def sql_name(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", value):
        return "must be 1-32 letters, digits or _ (an SQL account name)"
    return None


def optional_host(value: str) -> str | None:
    """Empty, an IP address, or a host name (localhost included): where to connect."""
    if not value:
        return None
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return None
    labels = value.removesuffix(".").split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"must be a host name or an IP address such as 127.0.0.1, or empty; not {value!r}"
    return None


def account_host(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9.:%_-]{1,255}", value):
        return "must be a host name, an IP address or a MariaDB host pattern such as %"
    return None


def argv(value: list[str]) -> str | None:
    """A program and its arguments (no shell); [] switches the step off."""
    if not value:
        return None
    if not value[0].strip():
        return "the program (first element) must not be empty; [] switches the step off"
    if not value[0].isprintable():
        return f"the program (first element) must not contain control characters: {value[0]!r}"
    if any("\x00" in arg for arg in value):
        return "must not contain NUL characters"
    return None


# ------------------------------------------------------------------ TLS names


def sni_names(*, parent_patterns: bool) -> Callable[[list[str]], str | None]:
    """Name patterns with {domain} that expand to host names; Postfix also takes a
    leading "." (any subdomain), Dovecot's local_name does not; no wildcards."""
    host = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")

    def check(value: list[str]) -> str | None:
        for pattern in value:
            if "{domain}" not in pattern:
                return f"every name must contain {{domain}}: {pattern!r}"
            if "*" in pattern:
                return f"wildcards are not supported: {pattern!r}"
            name = pattern.replace("{domain}", EXAMPLE_DOMAIN).lower()
            if parent_patterns and name.startswith("."):
                name = name[1:]
            if not host.fullmatch(name) or len(name) > 253 or not name.isascii():
                return f"{pattern!r} does not give a host name (such as {name!r})"
        return None

    return check
