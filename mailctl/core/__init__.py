"""Configuration schema, database engine and errors, the tables, the audit log."""
