"""SQLAlchemy models of the guide's three tables (section 4), column for column.

Postfix and Dovecot query these tables directly, so names, types, keys and
constraint names match the guide's DDL exactly on MariaDB; PostgreSQL and
SQLite get the closest equivalents. mailctl's own tables start with
`mailctl_` and never add columns to these three.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# INT UNSIGNED on MariaDB/MySQL, plain INTEGER elsewhere (SQLite needs exactly
# INTEGER for an auto-incrementing rowid primary key).
UnsignedInt = Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")

MYSQL_TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


class Base(DeclarativeBase):
    pass


class VirtualDomain(Base):
    __tablename__ = "virtual_domains"
    __table_args__ = (
        UniqueConstraint("name", name="uq_domain_name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)


class VirtualUser(Base):
    __tablename__ = "virtual_users"
    __table_args__ = (
        UniqueConstraint("email", name="uq_user_email"),
        Index("idx_user_domain", "domain_id"),
        ForeignKeyConstraint(
            ["domain_id"], ["virtual_domains.id"], name="fk_user_domain", ondelete="CASCADE"
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=True)
    domain_id: Mapped[int] = mapped_column(UnsignedInt, nullable=False)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    password: Mapped[str] = mapped_column(String(255), nullable=False)


class VirtualAlias(Base):
    __tablename__ = "virtual_aliases"
    __table_args__ = (
        Index("idx_alias_source", "source"),
        Index("idx_alias_domain", "domain_id"),
        ForeignKeyConstraint(
            ["domain_id"], ["virtual_domains.id"], name="fk_alias_domain", ondelete="CASCADE"
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=True)
    domain_id: Mapped[int] = mapped_column(UnsignedInt, nullable=False)
    source: Mapped[str] = mapped_column(String(255), nullable=False)
    destination: Mapped[str] = mapped_column(Text, nullable=False)

    @property
    def destinations(self) -> list[str]:
        """Postfix reads one comma-separated value; tolerate spaces a human left."""
        return [d.strip() for d in self.destination.split(",") if d.strip()]


GUIDE_TABLES = ("virtual_domains", "virtual_users", "virtual_aliases")


class DkimKey(Base):
    """mailctl's record of a DKIM key; its private key is in mailctl_dkim_secrets."""

    __tablename__ = "mailctl_dkim_keys"
    __table_args__ = (
        UniqueConstraint("domain_id", "selector", name="uq_mailctl_dkim_selector"),
        ForeignKeyConstraint(
            ["domain_id"],
            ["virtual_domains.id"],
            name="fk_mailctl_dkim_domain",
            ondelete="CASCADE",
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=True)
    domain_id: Mapped[int] = mapped_column(UnsignedInt, nullable=False)
    selector: Mapped[str] = mapped_column(String(63), nullable=False)
    algorithm: Mapped[str] = mapped_column(String(16), nullable=False)
    bits: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DkimSecret(Base):
    """A DKIM key's private key (PEM), from which every host writes its key file
    (migration 0004). A table of its own so that no grant on the key records
    reaches it: only mailctl's account reads it."""

    __tablename__ = "mailctl_dkim_secrets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["key_id"],
            ["mailctl_dkim_keys.id"],
            name="fk_mailctl_dkim_secret_key",
            ondelete="CASCADE",
        ),
        MYSQL_TABLE_ARGS,
    )

    key_id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=False)
    private_key: Mapped[str] = mapped_column(Text, nullable=False)


# --- account policy (migration 0003) -------------------------------------------
# Flags are SMALLINT 0/1, so one rendered query compares them on every backend.


class UserPolicy(Base):
    """A mailbox's suspension, services and quota; no row: the defaults."""

    __tablename__ = "mailctl_user_policy"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id"], ["virtual_users.id"], name="fk_mailctl_policy_user", ondelete="CASCADE"
        ),
        MYSQL_TABLE_ARGS,
    )

    user_id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=False)
    suspended: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    suspend_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    imap: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    pop3: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    smtp: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    receive: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DomainPolicy(Base):
    """A domain's suspension, default and largest quota, and limits; no row: none."""

    __tablename__ = "mailctl_domain_policy"
    __table_args__ = (
        ForeignKeyConstraint(
            ["domain_id"],
            ["virtual_domains.id"],
            name="fk_mailctl_policy_domain",
            ondelete="CASCADE",
        ),
        MYSQL_TABLE_ARGS,
    )

    domain_id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=False)
    suspended: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    suspend_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    receive: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    default_quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_users: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_aliases: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SenderGrant(Base):
    """A login may send as `address` (a full address, or @domain for all of one)."""

    __tablename__ = "mailctl_sender_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "address", name="uq_mailctl_sender_grant"),
        Index("idx_mailctl_sender_address", "address"),
        ForeignKeyConstraint(
            ["user_id"], ["virtual_users.id"], name="fk_mailctl_grant_user", ondelete="CASCADE"
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(UnsignedInt, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(UnsignedInt, nullable=False)
    address: Mapped[str] = mapped_column(String(255), nullable=False)


class QuotaUsage(Base):
    """A mailbox's usage, written by Dovecot's quota_clone through its SQL dict."""

    __tablename__ = "mailctl_quota_usage"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    messages: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class LastLogin(Base):
    """A mailbox's last login (Unix time), written by Dovecot's last_login plugin."""

    __tablename__ = "mailctl_last_login"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_login: Mapped[int] = mapped_column(BigInteger, nullable=False)


class MailHost(Base):
    """A mail host on this database, as its last successful `sync` left it (migration
    0005): `host list` and `doctor --cluster` read it. Each host writes its own row."""

    __tablename__ = "mailctl_hosts"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    roles: Mapped[str] = mapped_column(String(64), nullable=False)  # "mx,submission,imap"
    synced_at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # Unix time, the db's
    version: Mapped[str] = mapped_column(String(32), nullable=False)
    files: Mapped[str] = mapped_column(String(255), nullable=False)  # "" in sync, else what differs
    digest: Mapped[str] = mapped_column(String(64), nullable=False)  # sha256 of the files rendered
