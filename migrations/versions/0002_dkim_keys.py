"""mailctl_dkim_keys: DKIM key metadata per domain and selector.

The key material lives in files (key_dir/{domain}/{selector}.private); this
table records which keys exist and their lifecycle state (pending, active,
retired). Rows go with their domain (ON DELETE CASCADE); key files stay.
domain_id takes the type virtual_domains.id has in this database: an adopted,
hand-made one may have INT or BIGINT where the guide has INT UNSIGNED.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from mailctl.core.db import guide_id_type

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNSIGNED = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")


def upgrade() -> None:
    # MariaDB commits DDL at once: a run stopped between this CREATE and the version
    # update leaves the table behind. The table as this migration makes it is
    # taken as done, so `db upgrade` can finish what was half applied.
    bind = op.get_bind()
    if sa.inspect(bind).has_table("mailctl_dkim_keys"):
        return
    op.create_table(
        "mailctl_dkim_keys",
        sa.Column("id", UNSIGNED, primary_key=True, autoincrement=True),
        sa.Column("domain_id", guide_id_type(bind), nullable=False),
        sa.Column("selector", sa.String(63), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=True),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("domain_id", "selector", name="uq_mailctl_dkim_selector"),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["virtual_domains.id"],
            name="fk_mailctl_dkim_domain",
            ondelete="CASCADE",
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade() -> None:
    op.drop_table("mailctl_dkim_keys")
