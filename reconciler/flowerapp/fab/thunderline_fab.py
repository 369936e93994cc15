"""Entry points Flower loads from the FAB; the apps live in the installed `reconciler`."""

from reconciler.flowerapp.client import app as client_app
from reconciler.flowerapp.server import app as server_app

__all__ = ["client_app", "server_app"]
