"""The one CLI runner: the real `mailctl` command, in process, on a test config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from support.config import Sections, merge, write_config
from support.mailconfig import MailConfig

TABLES = ("virtual_domains", "virtual_users", "virtual_aliases")
# The harness's server.admin_email (support.config): domain add aliases postmaster@,
# abuse@ and the DMARC/TLS-RPT report addresses to it.
ADMIN_MAILBOX = "admin@example.nl"
# Account policy (migration 0003): in a dump on request, for a schema that has them.
POLICY_TABLES = ("mailctl_domain_policy", "mailctl_user_policy", "mailctl_sender_grants")


@dataclass
class Mailctl:
    """`m("domain", "add", "example.nl")` runs mailctl with `--config config` and
    asserts the exit code (`code=None`: any)."""

    config: Path
    url: str = ""
    root: Path = Path("/nonexistent")  # the private tree of managed files
    mail: MailConfig | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        config: Path,
        url: str,
        root: Path,
        *,
        mail: MailConfig | None = None,
        sections: Sections | None = None,
    ) -> Mailctl:
        m = cls(config, url, root, mail, merge({}, sections or {}))
        m.write()
        return m

    def write(self) -> None:
        write_config(self.config, self.url, self.root, mail=self.mail, sections=self.sections)

    def reconfigure(self, **sections: dict[str, Any]) -> Mailctl:
        """Rewrite the config with these sections merged in, e.g.
        `m.reconfigure(dkim={"ed25519": True})`; None: back to mailctl's default."""
        self.sections = merge(self.sections, sections)
        self.write()
        return self

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Result:
        from mailctl.cli.root import cli

        result = CliRunner().invoke(cli, ["--config", str(self.config), *args], input=input)
        if code is not None:
            assert result.exit_code == code, (
                f"mailctl {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}"
            )
        return result

    def dump(self, *, policy: bool = False) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the guide's tables (and with `policy`, of the account policy's),
        to prove a failed command changed nothing."""
        return {
            t: sorted(self.query(f"SELECT * FROM {t}"))  # noqa: S608 - fixed table names
            for t in (*TABLES, *(POLICY_TABLES if policy else ()))
        }

    def execute(self, sql: str, **params: Any) -> None:
        """Change the database behind mailctl's back (a hand edit, a damaged row)."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql), params)
        finally:
            engine.dispose()

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()


def make_mailctl(url: str, tmp_path: Path, mail: MailConfig | None) -> Mailctl:
    """mailctl on `url` with its files under tmp_path/files, schema at head."""
    root = tmp_path / "files"
    root.mkdir()
    m = Mailctl.create(tmp_path / "config.toml", url, root, mail=mail)
    m("db", "upgrade")
    return m


def add_admin_mailbox(m: Any) -> None:
    """The mailbox server.admin_email names, so that the report addresses `domain add`
    made receive mail: until it exists, doctor and dns check say they do not."""
    m("user", "add", ADMIN_MAILBOX, "--password-stdin", input="a good long password\n")
