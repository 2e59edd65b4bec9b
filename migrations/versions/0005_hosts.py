"""mailctl_hosts: every mail host on this database, as its last successful `sync`
left it: name, roles, when (Unix time, from the database's clock, so that hosts
whose clocks differ are judged alike), mailctl version, and whether its files
were what the database implies ("" in sync, else what differs) with a digest of
what it rendered. `host list` and `doctor --cluster` read it; each host writes
only its own row, so hosts never contend for one.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # MariaDB commits the CREATE at once: a run stopped before the version moved on is done.
    if sa.inspect(op.get_bind()).has_table("mailctl_hosts"):
        return
    op.create_table(
        "mailctl_hosts",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("roles", sa.String(64), nullable=False),
        sa.Column("synced_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("files", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade() -> None:
    op.drop_table("mailctl_hosts")
