"""Generated bad input, swept over every name the CLI takes, every field of an
import file and every config key (hardening issue 11).

Names: the click command tree is walked, and every parameter that takes free
text must be in NAMES with the command line that feeds it, so a new command
fails here until it is classified. Each gets a valid value with a control
character put at its start, in its middle (a seeded random place) and at its
end, and with a trailing CR LF; mailctl must refuse each with exit 1 or 2 and
one printable `mailctl: error:` line that says what was wrong, show none of it
on stdout, and leave every row of the database and every file under the
managed root as it was. The valid value runs first (with --dry-run where the
command changes things), so the refusal is the control character's doing.
Fields of an import file (JSON and CSV) get the same, with one line per bad row.

Config: for every key of the schema, values of the wrong TOML type, out of
range or set, relative where a path must be absolute, and with control
characters; `domain list` refuses each with one line naming the key.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import random
import shutil
import sqlite3
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_origin

import click
import pytest
from click.testing import Result
from integration.test_config_values import set_value, toml_value
from support.cli import Mailctl, make_mailctl
from support.files import snapshot
from support.mailconfig import MailConfig

from mailctl.core import checks
from mailctl.core.settings import FIELDS
from mailctl.transfer import fileformat
from mailctl.transfer.records import AliasRecord, DkimRecord, DomainRecord, UserRecord

PW = "a good long password\n"
CONTROLS = (
    "\n", "\r", "\t", "\x0b", "\x00", "\x1b", "\x7f", "\x85",  # C0, DEL, C1
    "\u2028", "\u200b", "\u202e", "\ufeff",  # line separator, zero width, bidi, BOM
)
NUL = ("\x00",)  # the one character no file name holds; any other may be in one
V = "{}"  # where an argv takes the generated value


def variants(valid: str, seed: str, controls: tuple[str, ...] = CONTROLS) -> list[str]:
    """`valid` with each control character at its start, a seeded middle and its end
    (and a trailing CR LF when line breaks are among them)."""
    rng = random.Random(f"mailctl property sweep {seed}")  # noqa: S311 - not crypto
    out: list[str] = []
    for char in controls:
        middle = rng.randrange(1, len(valid)) if len(valid) > 1 else 0
        out += [char + valid, valid[:middle] + char + valid[middle:], valid + char]
    if "\n" in controls:
        out.append(valid + "\r\n")
    return [*dict.fromkeys(out)]


# ------------------------------------------------------------------ the seeded site


@dataclass
class Site:
    m: Mailctl
    db: Path
    backup: Path
    keys: dict[str, str]  # example.nl's DKIM selectors by state
    document: fileformat.Document  # an import that succeeds: fresh.nl, ann@, sales@

    def state(self) -> tuple[list[str], dict[str, tuple[int, bytes | None]]]:
        """Every row of every table, and every file under the managed root."""
        conn = sqlite3.connect(self.db)
        try:
            rows = list(conn.iterdump())
        finally:
            conn.close()
        return rows, snapshot(self.m.root)

    def restore(self) -> None:
        shutil.rmtree(self.m.root)
        shutil.copytree(self.backup / "files", self.m.root, symlinks=True)
        shutil.copy2(self.backup / self.db.name, self.db)
        shutil.copy2(self.backup / self.m.config.name, self.m.config)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, mail_config: MailConfig) -> Iterator[Site]:
    """One SQLite site for the module (seeding takes seconds, a case milliseconds):
    example.nl with joe@, info@ -> joe@ and a retired, an active and a pending key;
    example.org with its first key."""
    base = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation is per test
        mp.delenv("MAILCTL_CONFIG", raising=False)
        mp.delenv("MAILCTL_DB_URL", raising=False)
        db = base / "mailctl.sqlite3"
        m = make_mailctl(f"sqlite:///{db}", base, mail_config)
        m("domain", "add", "example.nl", "example.org")
        m("user", "add", "joe@example.nl", "--password-stdin", input=PW)
        m("alias", "add", "info@example.nl", "joe@example.nl")
        m("dkim", "rotate", "example.nl")
        m("dkim", "activate", "example.nl", "--force")
        m("dkim", "rotate", "example.nl")
        keys = {k["state"]: k["selector"]
                for k in json.loads(m("dkim", "show", "example.nl", "-f", "json").stdout)}
        exported, _ = fileformat.parse(m("export", "--with-keys").stdout, "json")
        nl = next(d for d in exported.domains if d.name == "example.nl")
        # Every field of the records set, the account policy's too.
        document = fileformat.Document(
            domains=[DomainRecord(
                "fresh.nl", nl.dkim, suspended=True, suspend_reason="not yet", receive=True,
                default_quota="100M", max_quota="1G", max_users="10", max_aliases="10",
            )],
            users=[UserRecord(
                "ann@example.nl", exported.users[0].password, suspended=True,
                suspend_reason="left", imap=False, pop3=False, smtp=False, receive=True,
                quota="200M", send_as=("info@example.nl",),
            )],
            aliases=[AliasRecord("sales@example.nl", ("joe@example.nl",))],
        )
        backup = base / "backup"
        backup.mkdir()
        shutil.copytree(m.root, backup / "files", symlinks=True)
        shutil.copy2(db, backup / db.name)
        shutil.copy2(m.config, backup / m.config.name)
        yield Site(m, db, backup, keys, document)


@pytest.fixture
def site(seeded: Site) -> Iterator[Site]:
    """The seeded site, put back as it was should a case have changed it (it fails)."""
    before = seeded.state()
    yield seeded
    if seeded.state() != before:
        seeded.restore()


def refusal_problems(result: Result, value: str | None, says: str, lines: int = 1) -> list[str]:
    """What is wrong with how mailctl refused `value` (None: a config value, so stdout
    must stay empty); nothing if it did right."""
    problems = []
    if result.exit_code not in (1, 2):
        problems.append(f"exit {result.exit_code}")
    if not isinstance(result.exception, SystemExit):
        problems.append(f"raised {result.exception!r}")
    shown = result.stderr.removesuffix("\n").split("\n")
    if (
        len(shown) != lines
        or not all(line.isprintable() for line in shown)
        or not shown[0].startswith("mailctl: error: ")
        or says not in shown[0]
    ):
        problems.append(f"stderr is not {lines} printable line(s) saying {says!r}:"
                        f" {result.stderr!r}")
    if result.stdout if value is None else value in result.stdout:
        problems.append(f"stdout shows it: {result.stdout!r}")
    return problems


Check = Callable[[Any, Result], list[str]]


def sweep(site: Site, values: list[Any], run: Callable[[Any], Result], check: Check) -> None:
    """Run each value; every one must be refused as `check` wants and change nothing."""
    before = site.state()
    failures = []
    for value in values:
        result = run(value)
        problems = check(value, result)
        if site.state() != before:
            problems.append("changed the database or the files")
            site.restore()
        if problems:
            failures.append(f"{value!r}: {'; '.join(problems)}")
    assert not failures, f"{len(failures)} of {len(values)} cases:\n" + "\n".join(failures)


# ------------------------------------------------------------------ CLI parameters


@dataclass(frozen=True)
class Name:
    """A parameter that takes a name: the argv with V where it goes, a valid value,
    and what the refusal must say."""

    argv: tuple[str, ...]
    valid: str
    says: str
    stdin: str | None = None
    control: bool = True  # False: the valid value asks the network, or fails anyway
    controls: tuple[str, ...] = CONTROLS


DOMAIN, ADDRESS = "example.nl", "joe@example.nl"
INIT = ("init", "--dry-run", "--path", "<tmp>/new.toml")  # writes nothing, prints the config

# Parameter id (see free_text_parameters) -> how it is fed. The valid value of a
# command that changes things would succeed: the refusal is the control character's.
NAMES: dict[str, Name] = {
    "--config": Name(("--config", V, "domain", "list"), "<config>", "config file"),
    "--db": Name(("--db", V, "domain", "list"), "<url>", "At 'database.url'"),
    "alias add <source>": Name(("alias", "add", V, ADDRESS), "sales@example.nl",
                               "invalid address"),
    "alias add <destinations>": Name(("alias", "add", "sales@example.nl", V), ADDRESS,
                                     "invalid address"),
    "alias del <source>": Name(("alias", "del", V), "info@example.nl", "invalid address"),
    "alias del <destinations>": Name(("alias", "del", "info@example.nl", V), ADDRESS,
                                     "invalid address"),
    "alias list <domain>": Name(("alias", "list", V), DOMAIN, "invalid domain"),
    "dkim activate <domain>": Name(("dkim", "activate", V, "--force"), DOMAIN, "invalid domain"),
    "dkim activate <selector>": Name(("dkim", "activate", DOMAIN, V, "--force"), "<pending>",
                                     "no DKIM key with selector"),
    # --force: the valid nameserver is parsed, not asked, so activation would succeed.
    "dkim activate --nameserver": Name(
        ("dkim", "activate", DOMAIN, "--force", "--nameserver", V), "127.0.0.1",
        "invalid --nameserver",
    ),
    "dkim retire <domain>": Name(("dkim", "retire", V), DOMAIN, "invalid domain"),
    "dkim retire <selector>": Name(("dkim", "retire", DOMAIN, V), "<retired>",
                                   "no DKIM key with selector"),
    "dkim rotate <domain>": Name(("dkim", "rotate", V), "example.org", "invalid domain"),
    "dkim show <domain>": Name(("dkim", "show", V), DOMAIN, "invalid domain"),
    "dns autoconfig <name>": Name(("dns", "autoconfig", V), DOMAIN, "invalid domain"),
    "dns autodiscover <name>": Name(("dns", "autodiscover", V), DOMAIN, "invalid domain"),
    "dns mta-sts-policy <name>": Name(("dns", "mta-sts-policy", V), DOMAIN, "invalid domain"),
    "dns show <names>": Name(("dns", "show", V), DOMAIN, "invalid domain"),
    "dns check <names>": Name(("dns", "check", "--nameserver", "127.0.0.1:9", V), DOMAIN,
                              "invalid domain", control=False),
    "dns check --nameserver": Name(("dns", "check", DOMAIN, "--nameserver", V), "127.0.0.1",
                                   "invalid --nameserver", control=False),
    "doctor --nameserver": Name(("doctor", "--dns", "--nameserver", V), "127.0.0.1",
                                "invalid --nameserver", control=False),
    "domain add <names>": Name(("domain", "add", V), "new.nl", "invalid domain"),
    "domain del <name>": Name(("domain", "del", V, "--yes"), "example.org", "invalid domain"),
    "domain show <name>": Name(("domain", "show", V), DOMAIN, "invalid domain"),
    "export --output": Name(("export", "--output", V), "<tmp>/export.json", "cannot hold NUL",
                            controls=NUL),
    "import <file>": Name(("import", V), "<import>", "cannot"),
    "init --path": Name(("init", "--dry-run", "--path", V), "<tmp>/new.toml", "cannot hold NUL",
                        controls=NUL),
    "init --db-url": Name((*INIT, "--db-url", V), "sqlite:///<tmp>/new.sqlite3",
                          "At 'database.url'"),
    "init --db-password-file": Name((*INIT, "--db-password-file", V), "<tmp>/db.password",
                                    "At 'database.password_file'"),
    "init --hostname": Name((*INIT, "--hostname", V), "mail.example.nl", "At 'server.hostname'"),
    "init --primary-domain": Name((*INIT, "--primary-domain", V), DOMAIN,
                                  "At 'server.primary_domain'"),
    "init --ipv4": Name((*INIT, "--ipv4", V), "203.0.113.10", "At 'server.ipv4'"),
    "init --ipv6": Name((*INIT, "--ipv6", V), "2001:db8::10", "At 'server.ipv6'"),
    "init --admin-email": Name((*INIT, "--admin-email", V), "admin@example.nl",
                               "At 'server.admin_email'"),
    "init --set": Name((*INIT, "--set", V), "dkim.selector=mail", "At '"),
    # SQLite has no SQL accounts, so no valid run; the values are refused before that.
    "setup sql --admin-url": Name(("setup", "sql", "--admin-url", V), "mysql://root@127.0.0.1/",
                                  "--admin-url", control=False),
    "setup sql --admin-password-file": Name(
        ("setup", "sql", "--admin-password-file", V), "<tmp>/admin.password", "cannot hold NUL",
        control=False, controls=NUL,
    ),
    "domain set <name>": Name(("domain", "set", V, "--max-users", "50"), DOMAIN,
                              "invalid domain"),
    "domain set --default-quota": Name(("domain", "set", DOMAIN, "--default-quota", V), "1G",
                                       "invalid size"),
    "domain set --max-quota": Name(("domain", "set", DOMAIN, "--max-quota", V), "2G",
                                   "invalid size"),
    "domain set --max-users": Name(("domain", "set", DOMAIN, "--max-users", V), "50",
                                   "invalid count"),
    "domain set --max-aliases": Name(("domain", "set", DOMAIN, "--max-aliases", V), "50",
                                     "invalid count"),
    "domain suspend <name>": Name(("domain", "suspend", V), DOMAIN, "invalid domain"),
    "domain suspend --reason": Name(("domain", "suspend", DOMAIN, "--reason", V), "unpaid",
                                    "--reason"),
    # nothing is suspended, so the valid run would fail: only the refusals are swept
    "domain resume <name>": Name(("domain", "resume", V), DOMAIN, "invalid domain",
                                 control=False),
    "user suspend <email>": Name(("user", "suspend", V), ADDRESS, "invalid address"),
    "user suspend --reason": Name(("user", "suspend", ADDRESS, "--reason", V), "sent spam",
                                  "--reason"),
    "user resume <email>": Name(("user", "resume", V), ADDRESS, "invalid address",
                                control=False),
    "user set <email>": Name(("user", "set", V, "--quota", "1G"), ADDRESS, "invalid address"),
    "user set --quota": Name(("user", "set", ADDRESS, "--quota", V), "500M", "invalid size"),
    "sender allow <login>": Name(("sender", "allow", V, "info@example.nl"), ADDRESS,
                                 "invalid address"),
    "sender allow <address>": Name(("sender", "allow", ADDRESS, V), "info@example.nl",
                                   "invalid address"),
    "sender deny <login>": Name(("sender", "deny", V, "info@example.nl"), ADDRESS,
                                "invalid address", control=False),
    "sender deny <address>": Name(("sender", "deny", ADDRESS, V), "info@example.nl",
                                  "invalid address", control=False),
    "sender list <login>": Name(("sender", "list", V), ADDRESS, "invalid address"),
    # the seeded site has no host row to forget: only the refusals are swept
    "host del <name>": Name(("host", "del", V, "--yes"), "mx1.example.nl", "invalid host name",
                            control=False),
    "report usage <domain>": Name(("report", "usage", V), DOMAIN, "invalid domain"),
    "report inactive --days": Name(("report", "inactive", "--days", V), "30",
                                   "a whole number"),
    "user add <email>": Name(("user", "add", V, "--password-stdin"), "ann@example.nl",
                             "invalid address", PW),
    "user del <email>": Name(("user", "del", V, "--yes"), ADDRESS, "invalid address"),
    "user list <domain>": Name(("user", "list", V), DOMAIN, "invalid domain"),
    "user passwd <email>": Name(("user", "passwd", V, "--password-stdin"), ADDRESS,
                                "invalid address", PW),
    "user show <email>": Name(("user", "show", V), ADDRESS, "invalid address"),
    "user verify <email>": Name(("user", "verify", V, "--password-stdin"), ADDRESS,
                                "invalid address", PW),
}


def free_text_parameters() -> list[str]:
    """Every parameter of the CLI that takes free text (no flag, count or choice), as
    `command <argument>` or `command --option`."""
    from mailctl.cli.root import cli

    found: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        for param in command.params:
            if isinstance(param.type, click.Choice | click.types.BoolParamType) or (
                isinstance(param, click.Option) and (param.is_flag or param.count)
            ):
                continue
            name = max(param.opts, key=len) if isinstance(param, click.Option) else (
                f"<{param.name}>"
            )
            found.append(" ".join([*path, name]))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                assert child is not None, sub
                walk(child, [*path, sub])

    walk(cli, [])
    return found


def test_every_free_text_parameter_is_classified() -> None:
    found = free_text_parameters()
    assert sorted(found) == sorted(NAMES), (
        f"not classified: {sorted(set(found) - set(NAMES))};"
        f" gone: {sorted(set(NAMES) - set(found))}"
    )


def _takes_dry_run(argv: list[str]) -> bool:
    """Whether argv's command changes things (has the `mutating` options)."""
    from mailctl.cli.root import cli

    command: click.Command = cli
    for word in argv:
        if isinstance(command, click.Group):
            command = command.get_command(click.Context(command), word) or command
    return any(p.name == "dry_run" for p in command.params)


@pytest.mark.parametrize("param", sorted(NAMES))
def test_a_control_character_in_a_name_is_refused(site: Site, param: str, tmp_path: Path) -> None:
    spec = NAMES[param]
    import_file = tmp_path / "import.json"
    import_file.write_text(fileformat.render(site.document, "json"))
    places = {
        "<config>": str(site.m.config), "<url>": site.m.url, "<import>": str(import_file),
        "<pending>": site.keys["pending"], "<retired>": site.keys["retired"],
        "<tmp>": str(tmp_path),
    }

    def resolve(text: str) -> str:
        for mark, value in places.items():
            text = text.replace(mark, value)
        return text

    argv = [resolve(a) for a in spec.argv]
    valid = resolve(spec.valid)
    if spec.control:
        command = [valid if a == V else a for a in argv]
        dry = "--dry-run" not in command and _takes_dry_run(command)
        site.m(*command, *(["--dry-run"] if dry else []), input=spec.stdin)

    def run(value: str) -> Result:
        return site.m(*[value if a == V else a for a in argv], input=spec.stdin, code=None)

    sweep(site, variants(valid, param, spec.controls), run,
          lambda value, result: refusal_problems(result, value, spec.says))


# ------------------------------------------------------------------ import file fields

# Record field -> None: swept like a name; else why not.
IMPORT_FIELDS: dict[str, str | None] = {
    "DomainRecord.name": None,
    "DomainRecord.suspended": None,  # a flag: true or false, as a CSV cell has it
    "DomainRecord.suspend_reason": None,
    "DomainRecord.receive": None,
    "DomainRecord.default_quota": None,
    "DomainRecord.max_quota": None,
    "DomainRecord.max_users": None,  # a number in JSON; text there once it holds one
    "DomainRecord.max_aliases": None,
    "DkimRecord.selector": None,
    "DkimRecord.algorithm": None,
    "DkimRecord.state": None,
    "DkimRecord.created_at": None,
    "DkimRecord.activated_at": None,
    "DkimRecord.retired_at": None,
    "DkimRecord.private_key": "PEM: line breaks are its format",
    "UserRecord.email": None,
    "UserRecord.password": None,
    "UserRecord.plaintext": "a password: the policy, not a name rule, says what it holds",
    "UserRecord.suspended": None,
    "UserRecord.suspend_reason": None,
    "UserRecord.imap": None,
    "UserRecord.pop3": None,
    "UserRecord.smtp": None,
    "UserRecord.receive": None,
    "UserRecord.quota": None,
    "UserRecord.send_as": None,
    "AliasRecord.source": None,
    "AliasRecord.destinations": None,
}
RECORDS = (DomainRecord, DkimRecord, UserRecord, AliasRecord)


def test_every_text_field_of_an_import_record_is_classified() -> None:
    fields = {
        f"{cls.__name__}.{f.name}"
        for cls in RECORDS
        for f in dataclasses.fields(cls)
        if f.name != "where" and f.type not in ("int", "tuple[DkimRecord, ...]")
    }
    assert fields == set(IMPORT_FIELDS)


def _with_field(document: fileformat.Document, field: str, value: str) -> fileformat.Document:
    """The document with `field` (of its first record that has one) set to `value`."""
    kind, name = field.split(".")
    domain, user, alias = document.domains[0], document.users[0], document.aliases[0]

    def put(record: Any) -> Any:  # a list field gets the value as its only item
        given = (value,) if isinstance(getattr(record, name), tuple) else value
        return dataclasses.replace(record, **{name: given})

    if kind == "DkimRecord":
        at = next(i for i, k in enumerate(domain.dkim) if getattr(k, name) is not None)
        keys = list(domain.dkim)
        keys[at] = put(keys[at])
        domain = dataclasses.replace(domain, dkim=tuple(keys))
    elif kind == "DomainRecord":
        domain = put(domain)
    elif kind == "UserRecord":
        user = put(user)
    else:
        alias = put(alias)
    return fileformat.Document([domain], [user], [alias])


def _field_value(document: fileformat.Document, field: str) -> str:
    kind, name = field.split(".")
    record: Any = {
        "DomainRecord": document.domains[0],
        "UserRecord": document.users[0],
        "AliasRecord": document.aliases[0],
    }.get(kind) or next(k for k in document.domains[0].dkim if getattr(k, name) is not None)
    value = getattr(record, name)
    return str(value[0] if isinstance(value, tuple) else value)


def _render(document: fileformat.Document, field: str, value: str, fmt: str) -> str:
    """The document with `value` in `field`, as an import file. CSV cells are all quoted:
    mailctl's writer quotes what breaks its own "\n" lines, not a lone "\r" (which no
    stored value holds), and the importer is what is swept here."""
    if fmt != "csv":
        return fileformat.render(_with_field(document, field, value), fmt)
    token = "sweep-value-here"
    rows = csv.reader(io.StringIO(fileformat.render(_with_field(document, field, token), fmt)))
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
        [value if cell == token else cell for cell in row] for row in rows
    )
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("field", sorted(f for f, why in IMPORT_FIELDS.items() if why is None))
def test_a_control_character_in_an_import_field_is_refused(
    site: Site, field: str, fmt: str, tmp_path: Path
) -> None:
    path = tmp_path / f"import.{fmt}"
    valid = _field_value(site.document, field)
    path.write_text(_render(site.document, field, valid, fmt))
    site.m("import", "--dry-run", str(path))

    def run(value: str) -> Result:
        path.write_text(_render(site.document, field, value, fmt))
        return site.m("import", str(path), code=None)

    def check(value: str, result: Result) -> list[str]:
        return refusal_problems(result, value, "1 error(s) in the import file", lines=2)

    sweep(site, variants(valid, field), run, check)


# ------------------------------------------------------------------ config keys

KEYS = [f"{section}.{name}" for section, fields in FIELDS.items() for name in fields]
PATH_CHECKS = (checks.path, checks.optional_path, checks.unquoted_path, checks.key_dir,
               checks.per_domain_file)


def wrong_values(key: str, current: Any) -> list[Any]:
    """Values of `key` that parse as TOML but are wrong: another type, out of range or
    set, a relative path, a control character (in the program of an argv)."""
    section, name = key.split(".")
    kind, spec = FIELDS[section][name]
    rules = spec.metadata
    rng = random.Random(f"mailctl config sweep {key}")  # noqa: S311 - not crypto
    date = datetime.date(2026, 12, 1)
    if kind is bool:
        return ["true", 1, 0.0, [True], date]
    if kind is int:
        out: list[Any] = [str(current), True, float(current), [current], {"value": current}]
        out += [rules.get("min", 0) - 1, -1, rules.get("max", 2**63 - 2) + 1, 2**63 - 1]
        return out
    if get_origin(kind) is list:
        out = [" ".join(current) or "x", [1], [True], [["x"]], {"a": "b"}]
        head = current[0] if current else (spec.default_factory() or ["x"])[0] or "x"
        for char in CONTROLS:
            out.append([rng.choice(variants(head, f"{key} {char!r}", (char,))), *current[1:]])
        return out
    assert kind is str, key
    out = [7, True, 1.5, [current], {"value": current}, date]
    if "choices" in rules:
        out += ["bogus", " " + current]
    if rules.get("check") in PATH_CHECKS:
        out.append(current.lstrip("/") or "relative/path")
    if rules.get("check") is checks.per_domain_file:
        out.append(current.replace("{domain}", "example.nl"))
    for char in CONTROLS:
        out.append(rng.choice(variants(current, f"{key} {char!r}", (char,))))
    out.append(current + "\r\n")
    return out


def _insert_line(config: Path, section: str, line: str) -> None:
    lines = config.read_text().splitlines()
    lines.insert(lines.index(f"[{section}]") + 1, line)
    config.write_text("\n".join(lines) + "\n")


def _config_check(says: str) -> Check:
    def check(value: Any, result: Result) -> list[str]:
        return refusal_problems(result, None, says)

    return check


@pytest.mark.parametrize("key", KEYS)
def test_a_wrong_config_value_is_one_line_naming_its_key(site: Site, key: str) -> None:
    section, name = key.split(".")
    config = site.m.config
    original = config.read_bytes()
    current = tomllib.loads(original.decode())[section][name]
    values = wrong_values(key, current)
    own_type = [v for v in values if type(v) is type(current)]
    assert own_type or type(current) is bool, f"no wrong {type(current)} generated for {key}"

    def run(value: Any) -> Result:
        config.write_bytes(original)
        set_value(config, key, value)
        return site.m("domain", "list", code=None)

    try:
        sweep(site, values, run, _config_check(f"At '{key}': "))
    finally:
        config.write_bytes(original)


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_an_unknown_key_or_section_named_with_a_control_character_is_one_line(
    site: Site, char: str
) -> None:
    config = site.m.config
    original = config.read_bytes()

    def run(where: str) -> Result:
        config.write_bytes(original)
        if where == "section":
            config.write_text(original.decode() + f"\n[{json.dumps('dk' + char + 'im')}]\n")
        else:
            _insert_line(config, "dkim", f"{json.dumps('bi' + char + 'ts')} = {toml_value(1)}")
        return site.m("domain", "list", code=None)

    try:
        sweep(site, ["section", "key"], run, _config_check("unknown"))
    finally:
        config.write_bytes(original)
