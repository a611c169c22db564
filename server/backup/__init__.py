"""Backup and restore of one installation: its database, its documents and (on request) its encrypted keys, in one
archive file with a manifest (docs/design.md "Backup and restore"). No routes: the bureau's commands use it."""
