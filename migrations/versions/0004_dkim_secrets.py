"""mailctl_dkim_secrets: each DKIM key's private key (PEM text), in the database.

The database becomes the one source of every host's key files: `sync` (and any
command that renders the managed files) writes `key_dir/{domain}/{selector}.private`
from here, so a second host needs only its config and the database. The PEM has
a table of its own, not a column of mailctl_dkim_keys, so that grants stay
table-level on every backend: `setup sql` never lets the read-only Postfix/Dovecot
account read it. A secret goes with its key row, and so with its domain
(ON DELETE CASCADE twice).

Existing key files are taken in after the migration, by `db upgrade` itself (it
knows key_dir; a migration does not): see mailctl.dkim.stored.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from mailctl.core.db import guide_id_type

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    # MariaDB commits the CREATE at once: a run stopped before the version moved on is done.
    if sa.inspect(bind).has_table("mailctl_dkim_secrets"):
        return
    op.create_table(
        "mailctl_dkim_secrets",
        sa.Column(
            "key_id",
            guide_id_type(bind, "mailctl_dkim_keys"),
            primary_key=True,
            autoincrement=False,
        ),
        # PKCS#8 or PKCS#1 PEM, byte for byte as OpenDKIM reads it (an 8192-bit RSA
        # key is under 7 KiB)
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["mailctl_dkim_keys.id"],
            name="fk_mailctl_dkim_secret_key",
            ondelete="CASCADE",
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade() -> None:
    op.drop_table("mailctl_dkim_secrets")
