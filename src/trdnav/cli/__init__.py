"""The ``trdnav`` command line: a thin shell over :mod:`trdnav.service`."""

from trdnav.cli.app import app, main

__all__ = ["app", "main"]
