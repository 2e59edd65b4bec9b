"""The data store of everyday commands: one DB-API connection and the handful of
parameterised queries each command needs, without SQLAlchemy.

SQLAlchemy's models (core.tables) stay the schema's definition: migrations,
adoption and the `db` commands use them, and a test checks that every table and
column named here exists there, so the two cannot drift. Importing SQLAlchemy
costs a command about 0.4 s; the queries below cost milliseconds.
"""
