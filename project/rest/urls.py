"""``/api/openapi.json`` (this deployment's OpenAPI document) and ``/api/docs`` (it,
rendered by Swagger UI); no tenant headers."""

from django.urls import path
from django.views.decorators.http import require_GET

from project.rest import openapi

JSON_DOCUMENT = {"description": "the OpenAPI 3.1 document", "content": {"application/json": {}}}

urlpatterns = [
    path(
        "openapi.json",
        openapi.describe(
            require_GET(openapi.openapi_json),
            "/api/openapi.json",
            get={
                "operationId": "openapi.document.get",
                "summary": "This document: the routes this deployment serves",
                "tags": ["documents"],
                "responses": {"200": JSON_DOCUMENT},
            },
        ),
    ),
    path(
        "docs",
        openapi.describe(
            require_GET(openapi.docs_page),
            "/api/docs",
            get={
                "operationId": "openapi.page.get",
                "summary": "This document, rendered (Swagger UI)",
                "tags": ["documents"],
                "responses": {"200": openapi.text_answer("an HTML page", "text/html")},
            },
        ),
    ),
    path(
        "docs/assets/<str:name>",
        openapi.describe(
            require_GET(openapi.docs_asset),
            "/api/docs/assets/{name}",
            get={
                "operationId": "openapi.asset.get",
                "summary": "The page's script and style sheet",
                "tags": ["documents"],
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": sorted(openapi.ASSETS)},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {media: {} for media in sorted(set(openapi.ASSETS.values()))},
                    },
                    "404": {"description": "another name"},
                },
            },
        ),
    ),
]
