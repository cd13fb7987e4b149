"""The REST API (FastAPI): ``create_app(settings)`` builds it; ``trdnav serve`` runs it."""

from trdnav.api.app import create_app

__all__ = ["create_app"]
