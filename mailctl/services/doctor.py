"""`mailctl doctor`: is this installation consistent? One row per check.

Each check is a function from (db, settings) to results, so the list is
easy to extend; the command prints every row and exits 1 on any FAIL.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.errors import MailctlError
from mailctl.store import guide
from mailctl.store.connection import Db

if TYPE_CHECKING:
    from cryptography import x509
    from sqlalchemy import Engine

    from mailctl.store.dkimkeys import StoredKey

EXPIRY_WARNING = timedelta(days=21)


@dataclass(frozen=True)
class Result:
    """One row of doctor's report."""

    check: str
    status: str  # OK, WARN, FAIL
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


Check = Callable[[Db, Settings], Iterator[Result]]


def managed_files(db: Db, settings: Settings) -> Iterator[Result]:
    from mailctl.serverfiles import managed

    try:
        plan = managed.plan(db, settings)
    except MailctlError as exc:
        yield Result("managed files", "FAIL", str(exc))
        return
    in_sync_web = 0  # web files: three a domain, one row for those in sync
    for rendered in plan.files:
        whole = rendered.spec.kind == "whole"
        if whole and not rendered.changed:
            in_sync_web += 1
        elif rendered.changed:
            differs = "differs from the database"
            if whole and rendered.old is None:
                differs = "is missing"
            elif whole and rendered.new is None:
                differs = "is left from a domain that is no longer hosted"
            yield Result(
                f"file {rendered.spec.key}",
                "FAIL",
                f"{rendered.spec.path} {differs} (run: mailctl sync --diff)",
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
    if in_sync_web:
        yield Result("web files", "OK", f"{in_sync_web} file(s) in {settings.web.root} in sync")


def dkim_keys(db: Db, settings: Settings) -> Iterator[Result]:
    """Each published key's file on this host: the database's key (what `sync`
    writes), private, and matching its .txt record."""
    from mailctl.dkim import keyfiles as dkim
    from mailctl.model.dkimstates import PUBLISHED
    from mailctl.services.dkim import key_file
    from mailctl.store.dkimkeys import stored_keys

    keys = stored_keys(db, PUBLISHED)
    differing, notes = database_key_files(keys, settings)
    for note in notes:
        yield Result("dkim keys in the database", "WARN", note)
    for key in keys:
        domain, selector, state = key.domain, key.selector, key.state
        name = f"dkim {selector}._domainkey.{domain}"
        path = key_file(settings, domain, selector)
        if (why := differing.get((domain, selector))) is not None:
            yield Result(name, "FAIL", f"{path} {why} ({state} key)")
            continue
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


def database_key_files(
    keys: Iterable[StoredKey], settings: Settings
) -> tuple[dict[tuple[str, str], str], list[str]]:
    """{(domain, selector): what is wrong} for the key files on this host that are not
    the database's key (missing, another key, readable by others), each with the fix
    (`sync` writes them from the database, as `sync --check` reports them); and notes
    on what could not be compared (a key the database lacks, an unreadable file)."""
    from mailctl.dkim.stored import outdated_key_files
    from mailctl.services.dkim import key_file

    notes: list[str] = []
    differing = {}
    for key in outdated_key_files(keys, settings.dkim.key_dir, notes):
        why = {
            "missing": "is missing (run: mailctl sync)",
            "another key": "holds another key than the database (run: mailctl sync)",
            "a symbolic link": "is a symbolic link, not a key file (run: mailctl sync)",
        }.get(key.restore)
        if why is None:  # "mode 0644": the database's bytes, open to others
            path = key_file(settings, key.domain, key.selector)
            why = f"is {key.restore}; OpenDKIM refuses it (chmod 600 {path}, or mailctl sync)"
        differing[key.domain, key.selector] = why
    return differing, notes


def certificates(db: Db, settings: Settings) -> Iterator[Result]:
    from cryptography import x509

    from mailctl.serverfiles.tls import check_domain

    now = datetime.now(UTC)
    for domain in sorted(guide.domain_names(db)):
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


@dataclass(frozen=True)
class _Server:
    """A running server `served_certificates` asks, and how."""

    name: str  # as messages say it
    service: str  # the managed files' reload name (serverfiles.targets)
    port_key: str
    port: int
    patterns: tuple[str, ...]  # the SNI name patterns its files give each domain
    fetch: Callable[[str], bytes]  # SNI name -> DER leaf certificate


def served_certificates(db: Db, settings: Settings) -> Iterator[Result]:
    """What the running Dovecot and Postfix present for each domain's SNI name is the
    certificate file on disk: a renewal they have not loaded is found here, where the
    file checks cannot see it."""

    if not settings.tls.probe_host:
        return
    domains = guide.domain_names(db)
    yield from compare_served(settings, domains, lambda: _reload_advice(db, settings))


def compare_served(
    settings: Settings, domains: Iterable[str], reload_advice: Callable[[], dict[str, str]]
) -> Iterator[Result]:
    """`served_certificates` for these domains: OK or FAIL per server and domain with
    a certificate; a server that does not answer is one WARN (not checked).
    `reload_advice()` (service -> command) is asked only when a server is behind."""
    from functools import partial

    from mailctl.serverfiles.managed import usable_domains
    from mailctl.serverfiles.tls import check_domain
    from mailctl.system import tlsprobe

    tls = settings.tls
    host = tls.probe_host
    if not host:
        return
    servers = [
        _Server(
            "Dovecot",
            "dovecot",
            "tls.imaps_port",
            tls.imaps_port,
            tuple(settings.dovecot.sni_names),
            partial(tlsprobe.implicit_tls, host, tls.imaps_port),
        ),
        _Server(
            "Postfix",
            "postfix",
            "tls.submission_port",
            tls.submission_port,
            tuple(p for p in settings.postfix.sni_names if not p.startswith(".")),
            partial(
                tlsprobe.smtp_starttls,
                host,
                tls.submission_port,
                helo=settings.server.hostname,
            ),
        ),
    ]
    usable, _invalid = usable_domains(domains)
    ready = [s.entry for s in map(partial(check_domain, settings), usable) if s.entry]
    advice: dict[str, str] | None = None
    roles = settings.host.roles  # a host is asked only what it serves
    serves = {"dovecot": "imap" in roles, "postfix": "submission" in roles}
    for server in servers:
        if not serves[server.service] or not server.port or not server.patterns or not ready:
            continue
        for entry in ready:
            # One name a domain: all its names share the files and one reload.
            name = server.patterns[0].replace("{domain}", entry.domain)
            check = f"tls {server.service} {name}"
            try:
                leaf = server.fetch(name)
            except tlsprobe.Unreachable as exc:
                yield Result(
                    f"tls {server.service}",
                    "WARN",
                    f"{exc}: the certificates {server.name} serves were not checked"
                    f" ({server.port_key}, tls.probe_host)",
                )
                break
            except tlsprobe.ProbeFailed as exc:
                yield Result(check, "WARN", f"{exc}; not checked")
                continue
            difference = _served_difference(leaf, Path(entry.cert).read_bytes(), name)
            if difference is None:
                yield Result(check, "OK", f"{server.name} serves {entry.cert}")
                continue
            if advice is None:
                advice = reload_advice()
            how = advice.get(server.service)
            kind, detail = difference
            yield Result(
                check,
                "FAIL",
                f"{server.name} serves {kind} for {name} than {entry.cert} ({detail}):"
                f" reload {server.name}" + (f" (run: {how})" if how else ""),
            )


def _served_difference(served: bytes, on_disk: bytes, name: str) -> tuple[str, str] | None:
    """None when the served leaf is the file's first certificate; else what it is
    instead ("an older certificate" or "another certificate") and its particulars."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    wanted = x509.load_pem_x509_certificate(on_disk)
    if wanted.public_bytes(Encoding.DER) == served:
        return None
    try:
        cert = x509.load_der_x509_certificate(served)
    except ValueError:
        return "another certificate", "one that does not parse"
    issued = f"issued {cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
    if _covers(cert, name) and cert.not_valid_before_utc <= wanted.not_valid_before_utc:
        return "an older certificate", (
            f"{issued}, the file's {wanted.not_valid_before_utc:%Y-%m-%d %H:%M}"
        )
    return "another certificate", f"{cert.subject.rfc4514_string() or 'no subject'}, {issued}"


def _covers(cert: x509.Certificate, name: str) -> bool:
    from cryptography import x509

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    covered = {n.lower() for n in sans.value.get_values_for_type(x509.DNSName)}
    return name in covered or f"*.{name.split('.', 1)[-1]}" in covered


def _reload_advice(db: Db, settings: Settings) -> dict[str, str]:
    """What reloads each server: `mailctl sync` while one of its certificate files is
    outdated (sync rebuilds it and reloads), else its own reload command."""
    from mailctl.serverfiles import managed
    from mailctl.system.process import describe

    commands = settings.commands
    advice = {
        "postfix": describe(commands.reload_postfix) if commands.reload_postfix else "",
        "dovecot": describe(commands.reload_dovecot) if commands.reload_dovecot else "",
    }
    try:
        outdated = managed.plan(db, settings).outdated
    except MailctlError:
        outdated = ()
    for rendered in outdated:
        if rendered.spec.certificates:
            advice[rendered.spec.service] = "mailctl sync"
    return {service: how for service, how in advice.items() if how}


def role_aliases(db: Db, settings: Settings) -> Iterator[Result]:
    sources = set(guide.alias_sources(db))
    mailboxes = set(guide.emails(db))
    for domain in sorted(guide.domain_names(db)):
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


def maildir_root(db: Db, settings: Settings) -> Iterator[Result]:
    if not (settings.vmail.create_maildirs and "imap" in settings.host.roles):
        return  # no maildirs on this host
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


def postfix_maps(db: Db, settings: Settings) -> Iterator[Result]:
    """The SQL maps `setup render` wrote answer, through Postfix's own client, what
    the database holds: one sample domain, mailbox and alias."""
    from mailctl.model.servers import POSTFIX_MAP_TYPES
    from mailctl.setup.sqlmaps import ALIAS_MAPS, MAILBOX_DOMAINS, MAILBOX_MAPS, map_file_name
    from mailctl.system import process as system

    map_type = POSTFIX_MAP_TYPES.get(db.backend)
    if map_type is None:
        return
    directory = Path(settings.setup.postfix_map_dir)
    domain = min(guide.domain_names(db), default=None)
    user = min(guide.emails(db), default=None)
    alias = min(guide.alias_pairs(db), default=None)
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


def postfix_config(db: Db, settings: Settings) -> Iterator[Result]:
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
    db: Db, settings: Settings, nameserver: str | None, warn: Callable[[str], None]
) -> list[Result]:
    """`doctor --dns`: one row per domain, its records as `dns check` sees them."""
    from mailctl.services import dns as dnsstate

    try:
        rows = dnsstate.check(db, settings, (), nameserver, warn)
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


def web(db: Db, settings: Settings, nameserver: str | None) -> list[Result]:
    """`doctor --web`: each domain's MTA-STS policy as a sender fetches it (HTTPS, the
    certificate verified), against what mailctl renders and what DNS announces."""
    from mailctl.dns import clientconfig
    from mailctl.dns import lookup as dnslookup
    from mailctl.dns.records import base_context
    from mailctl.serverfiles.managed import usable_domains

    policy = clientconfig.mta_sts_policy(base_context(settings))
    server = dnslookup.parse_nameserver(nameserver) if nameserver else None
    res = dnslookup.resolver(server)
    domains, _invalid = usable_domains(guide.domain_names(db))
    return [_web_policy(settings, domain, policy, res) for domain in domains]


def _web_policy(settings: Settings, domain: str, policy: str, res: object) -> Result:
    """One domain's row of `doctor --web`."""
    from mailctl.dns import clientconfig
    from mailctl.dns import lookup as dnslookup
    from mailctl.serverfiles.tls import check_domain
    from mailctl.system import tlsprobe

    name = f"mta-sts.{domain}"
    url = clientconfig.MTA_STS_URL.format(domain=domain)
    check = f"web {name}"
    path = url.removeprefix(f"https://{name}")
    try:
        got = tlsprobe.https_get(
            settings.web.probe_host or name, 443, name, path, cafile=settings.web.ca_file or None
        )
    except tlsprobe.Unreachable as exc:
        return Result(check, "FAIL", f"{exc}: {url} cannot be fetched (web.probe_host)")
    except tlsprobe.ProbeFailed as exc:
        return Result(check, "FAIL", str(exc))
    if got.status != 200:
        return Result(check, "FAIL", f"{url} answers HTTP {got.status}, not 200")
    problems = []
    if got.content_type != "text/plain":
        problems.append(f"served as {got.content_type or 'no media type'}, not text/plain")
    served = got.body.decode("utf-8", "replace")
    if served != policy:
        problems.append(
            f"serves another policy than mailctl's ({_first_difference(served, policy)};"
            " run: mailctl sync)"
        )
    try:
        announced = [
            v.removeprefix("v=STSv1;").strip()
            for v in dnslookup.txt_values(res, f"_mta-sts.{domain}")
            if v.startswith("v=STSv1;")
        ]
    except dnslookup.LookupFailed as exc:
        announced = []
        problems.append(str(exc))
    ids = {f.strip().removeprefix("id=") for a in announced for f in a.split(";") if "id=" in f}
    served_id = clientconfig.mta_sts_id(served)
    if not ids:
        problems.append(f"DNS announces no policy at _mta-sts.{domain} (mailctl dns show {domain})")
    elif ids != {served_id}:
        problems.append(
            f"DNS announces id={', '.join(sorted(ids))}, the served policy is"
            f" id={served_id}: senders keep what they cached"
        )
    status = check_domain(settings, domain)
    if status.entry is not None:
        difference = _served_difference(got.certificate, Path(status.entry.cert).read_bytes(), name)
        if difference is not None:
            kind, detail = difference
            problems.append(
                f"the web server serves {kind} than {status.entry.cert} ({detail}): reload it"
            )
    if problems:
        return Result(check, "FAIL", "; ".join(problems))
    return Result(check, "OK", f"policy id={served_id}, as DNS announces; certificate verified")


def _first_difference(served: str, policy: str) -> str:
    """The first line where a served policy departs from mailctl's, for a message."""
    have, want = served.splitlines(), policy.splitlines()
    for mine, theirs in zip(have, want, strict=False):
        if mine != theirs:
            return f"{mine.strip()!r} where mailctl has {theirs.strip()!r}"
    if len(have) != len(want):
        return f"{len(have)} lines where mailctl has {len(want)}"
    return "other line endings or spacing"


def domain_names(db: Db, settings: Settings) -> Iterator[Result]:
    """Rows of virtual_domains that hold no domain name (a hand-made database)."""
    from mailctl.serverfiles.managed import usable_domains

    _usable, invalid = usable_domains(guide.domain_names(db))
    for name in sorted(invalid):
        yield Result(
            "domain row",
            "FAIL",
            f"virtual_domains holds {name!r}, no domain name; left out of the managed files"
            f" (mailctl domain del {name!r})",
        )


def database_tls(db: Db, settings: Settings) -> Iterator[Result]:
    """A database on another host should be reached over verified TLS."""
    from mailctl.store.connection import Tls, is_local, wants_tls

    url = db.url
    if is_local(url):
        return
    tls = Tls(settings.database.tls, settings.database.tls_ca)
    own = {k: v.lower() for k, v in url.query.items() if k.startswith("ssl")}
    plain = (
        own.get("ssl_disabled") in ("1", "true", "yes", "on")
        or own.get("sslmode") in ("disable", "allow", "prefer")
        or (not own and not wants_tls(url, tls))
    )
    if plain:
        yield Result(
            "database tls",
            "WARN",
            f"{url.host} is reached without verified TLS: passwords and hashes cross the"
            ' network readable (set database.tls = "auto" and drop TLS options from the URL)',
        )
    else:
        yield Result("database tls", "OK", f"{url.host}: TLS")


def report_addresses(db: Db, settings: Settings) -> Iterator[Result]:
    """Every mailto: the published DMARC and TLS-RPT records name in a hosted domain
    must reach someone, judged with the rendered maps' queries (services.routing)."""
    from mailctl.services.dns import report_routes

    for domain, lost in report_routes(db, settings):
        for address, problem, fix in lost:
            yield Result(
                f"reports {address}",
                "FAIL",
                f"{domain}'s DMARC or TLS-RPT record sends reports to {address}, but {problem}"
                f" (fix: {fix})",
            )
        if not lost:
            yield Result(f"reports {domain}", "OK", "every report address is received")


def rendered_files(db: Db, settings: Settings) -> Iterator[Result]:
    """The files `setup render` wrote, as it would write them now: a file from an
    older mailctl, or one edited back to the guide's plain query, enforces less."""
    from mailctl.model.servers import POSTFIX_MAP_TYPES
    from mailctl.serverfiles.managed import dovecot_version
    from mailctl.setup import serverconfig
    from mailctl.setup.sqlmaps import EMAIL2EMAIL, map_file_name

    setup = settings.setup
    if not Path(setup.dovecot_sql_conf).exists():
        return  # setup render has not run here; postfix_maps says so
    backend = POSTFIX_MAP_TYPES.get(db.backend, db.backend)
    fix = Path(setup.postfix_map_dir, map_file_name(backend, EMAIL2EMAIL)).exists()
    try:
        version, _note = dovecot_version(settings)
        planned = serverconfig.plan(settings, dovecot_version=version, catchall_fix=fix)
    except MailctlError as exc:
        yield Result("setup render files", "WARN", f"not compared: {exc}")
        return
    stale = [f for f in planned.files if f.old is not None and f.changed]
    for item in stale:
        yield Result(
            f"render {item.path.name}",
            "FAIL",
            f"{item.path} differs from what setup render writes now (an older mailctl, or"
            " edited by hand): the account policy may not be enforced (mailctl setup render)",
        )
    if not stale:
        yield Result("setup render files", "OK", "as setup render writes them")


def account_policy(db: Db, settings: Settings) -> Iterator[Result]:
    """Each kind of policy the database holds, and whether the running Postfix and
    Dovecot are configured to enforce it (the files `setup render` writes, read
    through `postconf` and `doveconf`, on the directories commands.* name)."""
    from mailctl.store import policy

    used = policy.in_use(db)
    if not any(used.values()):
        return
    postfix = _postconf(settings)
    dovecot = _doveconf(settings)
    maps, port = settings.setup.postfix_map_dir, settings.setup.quota_status_port
    wants = [
        # (kind, server, its config or None, what must be there, what is lost without it)
        (
            "receive",
            "Postfix",
            postfix and postfix.get("virtual_mailbox_maps"),
            maps,
            "virtual_mailbox_maps does not read setup render's map: mailboxes and domains set"
            " not to receive still get mail",
        ),
        (
            "grants",
            "Postfix",
            postfix and postfix.get("smtpd_sender_login_maps"),
            maps,
            "no smtpd_sender_login_maps reads setup render's map: send-as grants are ignored",
        ),
        (
            "quota",
            "Postfix",
            postfix and postfix.get("smtpd_recipient_restrictions"),
            f"check_policy_service inet:127.0.0.1:{port}",
            "smtpd_recipient_restrictions lacks check_policy_service inet:127.0.0.1:"
            f"{port}: mail over quota is accepted and bounces later",
        ),
        (
            "suspended",
            "Dovecot",
            dovecot,
            settings.setup.dovecot_sql_conf,
            "its passdb does not read setup render's SQL file: suspended logins still work",
        ),
        (
            "services",
            "Dovecot",
            dovecot,
            settings.setup.dovecot_sql_conf,
            "its passdb does not read setup render's SQL file: turned-off services still work",
        ),
        (
            "quota",
            "Dovecot",
            dovecot,
            "quota-status",
            "no quota-status service: setup render's policy file is not included",
        ),
    ]
    for kind, server, config, needle, lost in wants:
        if not used[kind]:
            continue
        name = f"policy {kind} ({server})"
        if config is None:
            yield Result(name, "WARN", f"{used[kind]} row(s) set; {server}'s config not read")
        elif needle in config:
            yield Result(name, "OK", f"{used[kind]} row(s) set, enforced")
        else:
            yield Result(name, "FAIL", f"{used[kind]} row(s) set, but {server}'s {lost}")


def _postconf(settings: Settings) -> dict[str, str] | None:
    """main.cf's and master.cf's settings (service overrides flattened), or None."""
    from mailctl.system import process as system

    directory = system.postfix_config_dir(settings.commands.postmap or ["postmap"])
    program = system.find_program("postconf")
    if directory is None or program is None or not Path(directory, "main.cf").is_file():
        return None
    try:
        main = system.run([program, "-c", directory], timeout=30).stdout
    except MailctlError:
        return None
    try:
        services = system.run([program, "-c", directory, "-P"], timeout=30).stdout
    except MailctlError:
        services = ""  # no master.cf: main.cf's settings are all there is
    found: dict[str, str] = {}
    for line in (main + services).splitlines():
        key, sep, value = line.partition("=")  # "name = value", "name =" when empty
        if sep:
            name = key.strip().rsplit("/", 1)[-1]  # submission/inet/smtpd_sender_login_maps
            found[name] = f"{found.get(name, '')} {value.strip()}".strip()
    return found


def _doveconf(settings: Settings) -> str | None:
    """`doveconf -n` as commands.check_dovecot runs it, or None."""
    from mailctl.system import process as system

    argv = settings.commands.check_dovecot
    if not argv or not argv[0].endswith("doveconf") or system.find_program(argv[0]) is None:
        return None
    try:
        return system.run(argv, timeout=30).stdout
    except MailctlError:
        return None


# ------------------------------------------------------------------ --cluster

FLOW_CONTROL_PAUSED = 0.1  # of the time since the last FLUSH STATUS: writes stall
RECV_QUEUE = 16  # Galera's default gcs.fc_limit, where flow control starts


def cluster(db: Db, settings: Settings) -> list[Result]:
    """`doctor --cluster`: the Galera node's view of the cluster, then every mail host
    as its last sync recorded it (mailctl_hosts)."""
    return [*galera(db, settings), *mail_hosts(db, settings)]


def galera(db: Db, settings: Settings) -> Iterator[Result]:
    from mailctl.store.hosts import galera_status

    status = galera_status(db)
    if status is None:
        # database.failover promises a cluster; without it one server is no fault
        kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(db.backend, "wsrep off")
        yield Result(
            "galera",
            "WARN" if settings.database.failover else "OK",
            f"the database is no Galera cluster ({kind}): no cluster state to check",
        )
        return
    ready = status.get("wsrep_ready", "?")
    state = status.get("wsrep_local_state_comment", "?")
    yield Result(
        "galera ready",
        "OK" if ready.upper() == "ON" else "FAIL",
        f"wsrep_ready {ready}, node {state}",
    )
    component = status.get("wsrep_cluster_status", "?")
    size = int(status.get("wsrep_cluster_size") or 0)
    named = 1 + len(settings.database.failover)  # database.url's node and the failover ones
    detail = f"wsrep_cluster_size {size}, wsrep_cluster_status {component}"
    if component != "Primary":
        yield Result("galera cluster", "FAIL", f"{detail}: this node takes no writes")
    elif size < named:
        yield Result(
            "galera cluster",
            "WARN",
            f"{detail}: database.url and database.failover name {named} nodes",
        )
    else:
        yield Result("galera cluster", "OK", detail)
    paused = float(status.get("wsrep_flow_control_paused") or 0)
    queue = int(status.get("wsrep_local_recv_queue") or 0)
    detail = f"wsrep_flow_control_paused {paused:.3f}, wsrep_local_recv_queue {queue}"
    if paused >= FLOW_CONTROL_PAUSED or queue >= RECV_QUEUE:
        yield Result(
            "galera flow control",
            "WARN",
            f"{detail}: a node cannot keep up and holds back every write (check its disk and load)",
        )
    else:
        yield Result("galera flow control", "OK", detail)


def mail_hosts(db: Db, settings: Settings) -> Iterator[Result]:
    from mailctl.services.hosts import IN_SYNC, ago, list_hosts, roles_text, this_host

    found = list_hosts(db, settings)
    limit = settings.host.sync_stale_after
    if this_host(settings) not in {h.name for h in found}:
        yield Result(
            f"host {this_host(settings)}",
            "WARN",
            "this host has not synced yet (run: mailctl sync; enable mailctl-sync.timer)",
        )
    for host in found:
        name = f"host {host.name}"
        when = f"last synced {ago(host.age)} ago"
        if host.stale:
            yield Result(
                name,
                "FAIL",
                f"{when}, more than host.sync_stale_after ({limit} s): its files may lag the"
                " database (on it: systemctl status mailctl-sync.timer;"
                " journalctl -u mailctl-sync.service)",
            )
        elif host.files != IN_SYNC:
            yield Result(name, "FAIL", f"{when}; its files differ: {host.files}")
        else:
            yield Result(
                name,
                "OK",
                f"{roles_text(host.roles)}: {when}, files in sync, mailctl {host.version}",
            )
    versions = sorted({h.version for h in found})
    if len(versions) > 1:
        yield Result(
            "mailctl versions",
            "WARN",
            "the hosts run different mailctl versions: "
            + "; ".join(
                f"{v} on {', '.join(h.name for h in found if h.version == v)}" for v in versions
            ),
        )


CHECKS: list[Check] = [
    database_tls,
    postfix_config,
    domain_names,
    managed_files,
    dkim_keys,
    certificates,
    served_certificates,
    role_aliases,
    report_addresses,
    maildir_root,
    postfix_maps,
    rendered_files,
    account_policy,
]
