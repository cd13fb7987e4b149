"""The web app's pages, one module per group; every route is left out of the OpenAPI document."""
