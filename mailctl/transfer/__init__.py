"""The export/import file formats (JSON, JSON Lines, CSV)."""
