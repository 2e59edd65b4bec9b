"""Account policy: suspension, per-service access, quotas, domain limits, send-as
grants, and the usage and last login Dovecot writes.

The guide's three tables stay exactly as the guide makes them; everything here
is a mailctl_ table the rendered Postfix and Dovecot queries join. A user or
domain without a policy row has the defaults (active, every service, no quota
of its own), so rows the guide's own SQL inserts work unchanged. Flags are
SMALLINT 0/1 rather than BOOLEAN: the same rendered query then compares them
on MariaDB, PostgreSQL and SQLite alike.

mailctl_quota_usage and mailctl_last_login are written by Dovecot itself
(quota_clone and last_login through its SQL dict), keyed by the login name as
Dovecot knows it, so they carry no foreign key; mailctl deletes a user's rows
with the user.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from mailctl.core.db import guide_id_type

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNSIGNED = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")
TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
TABLES = (
    "mailctl_user_policy",
    "mailctl_domain_policy",
    "mailctl_sender_grants",
    "mailctl_quota_usage",
    "mailctl_last_login",
)


def _flag(name: str, default: int) -> sa.Column[int]:
    return sa.Column(name, sa.SmallInteger(), nullable=False, server_default=str(default))


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    # MariaDB commits each CREATE at once: a run stopped halfway is finished here.
    if "mailctl_user_policy" not in existing:
        op.create_table(
            "mailctl_user_policy",
            sa.Column(
                "user_id",
                guide_id_type(bind, "virtual_users"),
                primary_key=True,
                autoincrement=False,
            ),
            _flag("suspended", 0),
            sa.Column("suspend_reason", sa.String(255), nullable=True),
            _flag("imap", 1),
            _flag("pop3", 1),
            _flag("smtp", 1),
            _flag("receive", 1),
            # NULL: the domain's default quota; 0: unlimited
            sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
            sa.ForeignKeyConstraint(
                ["user_id"],
                ["virtual_users.id"],
                name="fk_mailctl_policy_user",
                ondelete="CASCADE",
            ),
            **TABLE_ARGS,
        )
    if "mailctl_domain_policy" not in existing:
        op.create_table(
            "mailctl_domain_policy",
            sa.Column("domain_id", guide_id_type(bind), primary_key=True, autoincrement=False),
            _flag("suspended", 0),
            sa.Column("suspend_reason", sa.String(255), nullable=True),
            _flag("receive", 1),
            sa.Column("default_quota_bytes", sa.BigInteger(), nullable=True),
            sa.Column("max_quota_bytes", sa.BigInteger(), nullable=True),
            sa.Column("max_users", sa.Integer(), nullable=True),
            sa.Column("max_aliases", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(
                ["domain_id"],
                ["virtual_domains.id"],
                name="fk_mailctl_policy_domain",
                ondelete="CASCADE",
            ),
            **TABLE_ARGS,
        )
    if "mailctl_sender_grants" not in existing:
        op.create_table(
            "mailctl_sender_grants",
            sa.Column("id", UNSIGNED, primary_key=True, autoincrement=True),
            sa.Column("user_id", guide_id_type(bind, "virtual_users"), nullable=False),
            # a full address, or @domain for every address of a domain
            sa.Column("address", sa.String(255), nullable=False),
            sa.UniqueConstraint("user_id", "address", name="uq_mailctl_sender_grant"),
            sa.Index("idx_mailctl_sender_address", "address"),
            sa.ForeignKeyConstraint(
                ["user_id"],
                ["virtual_users.id"],
                name="fk_mailctl_grant_user",
                ondelete="CASCADE",
            ),
            **TABLE_ARGS,
        )
    if "mailctl_quota_usage" not in existing:
        op.create_table(
            "mailctl_quota_usage",
            sa.Column("username", sa.String(255), primary_key=True),
            sa.Column("bytes", sa.BigInteger(), nullable=False, server_default="0"),
            sa.Column("messages", sa.BigInteger(), nullable=False, server_default="0"),
            **TABLE_ARGS,
        )
    if "mailctl_last_login" not in existing:
        op.create_table(
            "mailctl_last_login",
            sa.Column("username", sa.String(255), primary_key=True),
            sa.Column("last_login", sa.BigInteger(), nullable=False),  # Unix time
            **TABLE_ARGS,
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
