"""SQLAlchemy models of the guide's three tables (section 4), column for column.

Postfix and Dovecot query these tables directly, so names, types, keys and
constraint names match the guide's DDL exactly on MariaDB; PostgreSQL and
SQLite get the closest equivalents. mailctl's own tables start with
`mailctl_` and never add columns to these three.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
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
    """mailctl's record of a DKIM key; the key itself is a file in dkim.key_dir."""

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
