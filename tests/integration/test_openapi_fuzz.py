"""schemathesis against the OpenAPI schema: no operation answers 5xx, whatever it is sent.

Every operation is fuzzed as an administrator (the role that reaches most operations) and anonymously, on both
databases. The schema comes from the app under test, so the fuzzing follows the API as it grows.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.integration.conftest import PASSWORD

EXAMPLES = 30


def test_no_operation_answers_5xx(app):
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()[
            "token"
        ]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 2

    def fuzz(case) -> None:
        for headers in ({"authorization": f"Bearer {token}"}, {}):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                )

    checked = settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    for operation in operations:
        checked(given(operation.as_strategy())(fuzz))()
    assert failures == []
