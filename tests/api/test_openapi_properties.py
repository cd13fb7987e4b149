"""Property-based testing of the whole API against its OpenAPI document (schemathesis):
generated requests never cause a server error, and every response has a documented status,
content type and body shape. Bounded so that it fits in CI."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from trdnav.api import create_app
from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.settings import Settings

PASSWORD = "property based password"


@pytest.fixture(scope="session")
def signed_in(sqlite_server, tmp_path_factory):
    clinic = accounts.add_clinic(sqlite_server.store, "Property Clinic")
    accounts.add_user(
        sqlite_server.store,
        Actor.command_line(clinic.id),
        email="admin@property.test",
        name="Admin",
        role="admin",
        password=PASSWORD,
    )
    token = httpx.post(
        f"{sqlite_server.url}/auth/login",
        json={"email": "admin@property.test", "password": PASSWORD},
    ).json()["access_token"]
    return sqlite_server, {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def api_schema(signed_in):
    server, _ = signed_in
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def operations():
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    return sorted((path, method.upper()) for path, ops in spec["paths"].items() for method in ops)


@pytest.mark.parametrize(("path", "method"), operations())
def test_api_conforms_to_its_openapi_document(api_schema, signed_in, path, method):
    server, headers = signed_in
    strategy = api_schema[path][method].as_strategy()

    @given(case=strategy)
    @settings(
        max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(case):
        case.call_and_validate(
            base_url=server.url,
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )

    check()
