"""Uploaded documents (vehicle licence, driving licence, business licence): checked by content, stored owner-only
under ``<home>/documents/``, shown only to the bureau's reviewers and administrators and the enterprise they
belong to, deleted with their application. Callers elsewhere use ``service``: ``for_application``,
``delete_for_application``, ``for_enterprise``."""
