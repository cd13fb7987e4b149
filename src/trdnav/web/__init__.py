"""The clinician web app: server-rendered pages on the API's server, under ``/app``."""

from trdnav.web.mount import install_web

__all__ = ["install_web"]
