"""HTTP adapters: the native ``/api/v1`` API and the seed dialects, over the service layer."""

from jobplan.api.app import create_app

__all__ = ["create_app"]
