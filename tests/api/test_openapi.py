"""The OpenAPI document: public, about the API only, and no documentation UI from a CDN."""

from __future__ import annotations

import json

import pytest

from tests.conftest import sign_in


async def document(client) -> dict:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_document_is_public_and_lists_only_the_api(client):
    doc = await document(client)
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/people", "/api/v1/departments"} <= set(doc["paths"])
    assert all(path.startswith("/api/v1/") for path in doc["paths"])  # no HTML page is documented


@pytest.mark.parametrize("path, page", [("/api/v1/people", "PeoplePage"), ("/api/v1/departments", "DepartmentsPage")])
async def test_each_endpoint_documents_its_page_and_its_errors(client, path, page):
    doc = await document(client)
    operation = doc["paths"][path]["get"]
    responses = operation["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{page}"}
    for status in ("401", "403", "422"):
        assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert "400" not in responses  # we answer 422 for bad input
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["limit"]["schema"]["minimum"] == 1 and parameters["limit"]["schema"]["maximum"] == 500
    assert "cursor" in parameters


async def test_schemas_and_bearer_security_are_declared(client):
    doc = await document(client)
    schemas = doc["components"]["schemas"]
    assert set(schemas["PeoplePage"]["required"]) == {"items", "next"}
    assert {"id", "employee_number", "full_name", "department_code", "active"} <= set(schemas["PersonOut"]["properties"])
    assert {"code", "name_en", "name_ru", "parent_code"} <= set(schemas["DepartmentOut"]["properties"])
    assert set(schemas["ErrorResponse"]["properties"]) == {"detail", "errors"}
    assert set(schemas["ErrorItem"]["properties"]) == {"field", "index", "message"}
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearer": []}]


async def test_document_refers_to_no_outside_host(client):
    text = json.dumps(await document(client))
    for host in ("cdn.", "unpkg", "jsdelivr", "cdnjs", "googleapis"):
        assert host not in text


@pytest.mark.parametrize("path", ["/schema", "/schema/", "/schema/swagger", "/schema/redoc", "/schema/elements",
                                  "/schema/rapidoc", "/schema/openapi.yaml", "/schema/oauth2-redirect.html"])
async def test_no_documentation_ui_is_served(client, path):
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 404
    assert "script" not in response.text.lower() or "/static/" in response.text  # our own error page only
    assert "cdn" not in response.text.lower()


async def test_document_is_the_same_for_a_signed_in_person(client):
    anonymous = await document(client)
    await sign_in(client, "employee@test.local")
    assert await document(client) == anonymous
