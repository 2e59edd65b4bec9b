"""The guide's schema (section 4): virtual_domains, virtual_users, virtual_aliases.

A database created by hand from the guide's SQL is identical to what this
revision creates; mailctl detects such a database and stamps it with this
revision instead of running it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UNSIGNED = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")
TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "virtual_domains",
        sa.Column("id", UNSIGNED, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.UniqueConstraint("name", name="uq_domain_name"),
        **TABLE_ARGS,
    )
    op.create_table(
        "virtual_users",
        sa.Column("id", UNSIGNED, primary_key=True, autoincrement=True),
        sa.Column("domain_id", UNSIGNED, nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("password", sa.String(255), nullable=False),
        sa.UniqueConstraint("email", name="uq_user_email"),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["virtual_domains.id"], name="fk_user_domain", ondelete="CASCADE"
        ),
        **TABLE_ARGS,
    )
    op.create_index("idx_user_domain", "virtual_users", ["domain_id"])
    op.create_table(
        "virtual_aliases",
        sa.Column("id", UNSIGNED, primary_key=True, autoincrement=True),
        sa.Column("domain_id", UNSIGNED, nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["virtual_domains.id"], name="fk_alias_domain", ondelete="CASCADE"
        ),
        **TABLE_ARGS,
    )
    op.create_index("idx_alias_source", "virtual_aliases", ["source"])
    op.create_index("idx_alias_domain", "virtual_aliases", ["domain_id"])


def downgrade() -> None:
    op.drop_table("virtual_aliases")
    op.drop_table("virtual_users")
    op.drop_table("virtual_domains")
