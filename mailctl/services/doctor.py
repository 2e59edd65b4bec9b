"""`mailctl doctor`: is this installation consistent? One row per check.

Each check is a function from (session, settings) to results, so the list is
easy to extend; the command prints every row and exits 1 on any FAIL.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mailctl.core.config import Settings
from mailctl.errors import MailctlError

EXPIRY_WARNING = timedelta(days=21)


@dataclass(frozen=True)
class Result:
    check: str
    status: str  # OK, WARN, FAIL
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


Check = Callable[[Session, Settings], Iterator[Result]]


def managed_files(session: Session, settings: Settings) -> Iterator[Result]:
    from mailctl.serverfiles import managed

    try:
        plan = managed.plan(session, settings)
    except MailctlError as exc:
        yield Result("managed files", "FAIL", str(exc))
        return
    for rendered in plan.files:
        if rendered.changed:
            yield Result(
                f"file {rendered.spec.key}",
                "FAIL",
                f"{rendered.spec.path} differs from the database (run: mailctl sync --diff)",
            )
        elif rendered.stale:
            yield Result(
                f"file {rendered.spec.key}",
                "FAIL",
                f"{rendered.spec.path}: {rendered.stale} (run: mailctl sync)",
            )
        elif rendered.duplicates:
            yield Result(
                f"file {rendered.spec.key}",
                "WARN",
                f"{len(rendered.duplicates)} entr(y/ies) outside the managed block duplicate it"
                " (run: mailctl sync --adopt)",
            )
        else:
            yield Result(f"file {rendered.spec.key}", "OK", f"{rendered.spec.path} in sync")


def dkim_keys(session: Session, settings: Settings) -> Iterator[Result]:
    from mailctl.core.tables import DkimKey, VirtualDomain
    from mailctl.dkim import keyfiles as dkim
    from mailctl.model.dkimstates import PUBLISHED
    from mailctl.services.dkim import key_file

    rows = session.execute(
        select(VirtualDomain.name, DkimKey.selector, DkimKey.state)
        .join(DkimKey, DkimKey.domain_id == VirtualDomain.id)
        .where(DkimKey.state.in_(PUBLISHED))
        .order_by(VirtualDomain.name, DkimKey.selector)
    )
    for domain, selector, state in rows:
        name = f"dkim {selector}._domainkey.{domain}"
        path = key_file(settings, domain, selector)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            yield Result(name, "FAIL", f"{path}: {exc.strerror} ({state} key)")
            continue
        if stat.S_IMODE(mode) & 0o077:
            yield Result(
                name,
                "FAIL",
                f"{path} is mode {stat.S_IMODE(mode):04o}; OpenDKIM refuses it (chmod 600 {path})",
            )
            continue
        try:
            pem = dkim.load_existing_key(path)
            txt = path.with_suffix(".txt").read_text()
            matches = dkim.dns_value_matches(dkim.txt_value(txt), pem)
        except (MailctlError, OSError, ValueError) as exc:
            yield Result(name, "FAIL", f"{path}: {exc}")
            continue
        if not matches:
            yield Result(name, "FAIL", f"{path.with_suffix('.txt')} holds another key's record")
        else:
            yield Result(name, "OK", f"{state}, {path} 0600 and matches its .txt")


def certificates(session: Session, settings: Settings) -> Iterator[Result]:
    from cryptography import x509

    from mailctl.core.tables import VirtualDomain
    from mailctl.serverfiles.tls import check_domain

    now = datetime.now(UTC)
    for domain in sorted(session.scalars(select(VirtualDomain.name))):
        status = check_domain(settings, domain)
        name = f"tls {domain}"
        if status.entry is None:
            yield Result(name, "WARN", status.reason)
            continue
        cert = x509.load_pem_x509_certificate(Path(status.entry.cert).read_bytes())
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            covered = {n.lower() for n in sans.value.get_values_for_type(x509.DNSName)}
        except x509.ExtensionNotFound:
            covered = set()
        wanted = [
            pattern.replace("{domain}", domain)
            for pattern in (*settings.postfix.sni_names, *settings.dovecot.sni_names)
        ]
        missing = [
            n for n in wanted if n not in covered and f"*.{n.split('.', 1)[1]}" not in covered
        ]
        left = cert.not_valid_after_utc - now
        key_mode = stat.S_IMODE(Path(status.entry.key).stat().st_mode)
        if key_mode & 0o077:
            yield Result(
                f"tls key {domain}",
                "WARN",
                f"{status.entry.key} is mode {key_mode:04o}: others may read the private key"
                f" (chmod 600 {status.entry.key})",
            )
        if missing:
            yield Result(name, "FAIL", f"{status.entry.cert} does not cover {', '.join(missing)}")
        elif left < EXPIRY_WARNING:
            yield Result(name, "FAIL", f"{status.entry.cert} expires in {left.days} day(s)")
        else:
            yield Result(name, "OK", f"covers its names, valid for {left.days} more days")


def role_aliases(session: Session, settings: Settings) -> Iterator[Result]:
    from mailctl.core.tables import VirtualAlias, VirtualDomain, VirtualUser

    sources = set(session.scalars(select(VirtualAlias.source)))
    mailboxes = set(session.scalars(select(VirtualUser.email)))
    for domain in sorted(session.scalars(select(VirtualDomain.name))):
        missing = [
            f"{role}@{domain}"
            for role in ("postmaster", "abuse")
            if f"{role}@{domain}" not in sources
            and f"{role}@{domain}" not in mailboxes
            and f"@{domain}" not in sources
        ]
        if "postmaster@" + domain in missing:
            yield Result(f"rfc5321 {domain}", "FAIL", "no postmaster@ (RFC 5321 requires it)")
        elif missing:
            yield Result(f"rfc5321 {domain}", "WARN", f"no {', '.join(missing)}")
        else:
            yield Result(f"rfc5321 {domain}", "OK", "postmaster@ and abuse@ deliver")


def maildir_root(session: Session, settings: Settings) -> Iterator[Result]:
    if not settings.vmail.create_maildirs:
        return
    home = Path(settings.vmail.home)
    if not home.is_dir():
        yield Result("maildir root", "WARN", f"{home} does not exist yet")
    elif home.stat().st_mode & 0o007:
        yield Result("maildir root", "FAIL", f"{home} is open to others (guide: 0750 vmail)")
    else:
        yield Result("maildir root", "OK", f"{home}")


def database(engine: Engine) -> Result:
    from mailctl.core import db

    try:
        status = db.schema_status(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error is the finding itself
        return Result("database", "FAIL", str(exc).splitlines()[0])
    if status.pending:
        return Result(
            "database",
            "FAIL",
            f"schema at {status.current or 'nothing'}, needs {status.head} (mailctl db upgrade)",
        )
    return Result("database", "OK", f"{status.backend}, schema {status.head}")


def postfix_maps(session: Session, settings: Settings) -> Iterator[Result]:
    """The SQL maps `setup render` wrote answer, through Postfix's own client, what
    the database holds: one sample domain, mailbox and alias."""
    from mailctl.core.tables import VirtualAlias, VirtualDomain, VirtualUser
    from mailctl.model.servers import POSTFIX_MAP_TYPES
    from mailctl.setup.sqlmaps import ALIAS_MAPS, MAILBOX_DOMAINS, MAILBOX_MAPS, map_file_name
    from mailctl.system import process as system

    bind = session.get_bind()
    map_type = POSTFIX_MAP_TYPES.get(bind.dialect.name)
    if map_type is None:
        return
    directory = Path(settings.setup.postfix_map_dir)
    domain = session.scalars(select(VirtualDomain.name).order_by(VirtualDomain.name)).first()
    user = session.scalars(select(VirtualUser.email).order_by(VirtualUser.email)).first()
    alias = session.execute(
        select(VirtualAlias.source, VirtualAlias.destination).order_by(VirtualAlias.source)
    ).first()
    samples = [
        (MAILBOX_DOMAINS, domain, "1"),
        (MAILBOX_MAPS, user, "1"),
        (ALIAS_MAPS, alias[0] if alias else None, alias[1] if alias else None),
    ]
    for stem, key, expected in samples:
        path = directory / map_file_name(map_type, stem)
        name = f"postfix map {stem}"
        if key is None:
            continue
        if not path.exists():
            yield Result(name, "WARN", f"{path} not found (run: mailctl setup render)")
            continue
        postmap = settings.commands.postmap or ["postmap"]
        if system.find_program(postmap[0]) is None:
            yield Result(name, "WARN", f"{postmap[0]} not installed; lookup not tried")
            continue
        if problem := system.unconfigured_postfix(postmap):
            yield Result(name, "WARN", f"{problem}; lookup not tried")
            continue
        try:
            found = system.run([*postmap, "-q", key, f"{map_type}:{path}"], timeout=30)
            answer = found.stdout.strip()
        except MailctlError as exc:
            answer = f"(lookup failed: {exc})"
        if answer == expected:
            yield Result(name, "OK", f"postmap -q {key} -> {answer}")
        else:
            yield Result(name, "FAIL", f"postmap -q {key} -> {answer!r}, database has {expected!r}")


def postfix_config(session: Session, settings: Settings) -> Iterator[Result]:
    """Postfix installed but not configured (no main.cf) makes every postmap and
    `postfix check` fail: name that cause once, for each directory the commands read."""
    from mailctl.system import process as system

    commands = settings.commands
    seen: set[str] = set()
    for argv in (commands.postmap, commands.check_postfix, commands.reload_postfix):
        directory = system.postfix_config_dir(argv)
        if directory is None or directory in seen or system.find_program(argv[0]) is None:
            continue
        seen.add(directory)
        problem = system.unconfigured_postfix(argv)
        if problem is None:
            yield Result("postfix config", "OK", f"{directory}/main.cf")
        elif settings.sandbox:
            yield Result("postfix config", "WARN", f"{problem}; the sandbox skips postmap")
        else:
            yield Result(
                "postfix config",
                "FAIL",
                f"{problem}: configure Postfix (guide section 8) or give the commands -c DIR",
            )


def dns(
    session: Session, settings: Settings, nameserver: str | None, warn: Callable[[str], None]
) -> list[Result]:
    """`doctor --dns`: one row per domain, its records as `dns check` sees them."""
    from mailctl.services import dns as dnsstate

    try:
        rows = dnsstate.check(session, settings, (), nameserver, warn)
    except MailctlError as exc:
        return [Result("dns", "FAIL", str(exc))]
    out: list[Result] = []
    for name in dict.fromkeys(r.domain for r in rows):
        bad = [r for r in rows if r.domain == name and r.failed]
        if bad:
            detail = "; ".join(f"{r.name} {r.type} {r.status}" for r in bad[:4])
            out.append(Result(f"dns {name}", "FAIL", detail + (" ..." if len(bad) > 4 else "")))
        else:
            out.append(Result(f"dns {name}", "OK", "published records match (dns check)"))
    return out


def domain_names(session: Session, settings: Settings) -> Iterator[Result]:
    """Rows of virtual_domains that hold no domain name (a hand-made database)."""
    from mailctl.core.tables import VirtualDomain
    from mailctl.serverfiles.managed import usable_domains

    _usable, invalid = usable_domains(session.scalars(select(VirtualDomain.name)))
    for name in sorted(invalid):
        yield Result(
            "domain row",
            "FAIL",
            f"virtual_domains holds {name!r}, no domain name; left out of the managed files"
            f" (mailctl domain del {name!r})",
        )


CHECKS: list[Check] = [
    postfix_config,
    domain_names,
    managed_files,
    dkim_keys,
    certificates,
    role_aliases,
    maildir_root,
    postfix_maps,
]
