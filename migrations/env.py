"""Alembic environment: mailctl passes the connection in, never a URL.

The version table is `mailctl_schema_version`, so mailctl's bookkeeping stays
out of the guide's tables.
"""

from alembic import context

from mailctl.core.db import VERSION_TABLE
from mailctl.core.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
