"""The security regression suite (issue 11) runs against the same app, portal and API fixtures as the integration
tests: a migrated database on SQLite and PostgreSQL, users of every role."""

from tests.integration.conftest import (  # noqa: F401  (fixtures, re-exported for this folder)
    DEMO_USCC,
    OTHER_USCC,
    PASSWORD,
    Portal,
    api,
    app,
    app_settings,
    portal,
)
