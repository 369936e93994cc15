"""The web console and its JSON API, served by the daemon: read-only views of every federation.

`routes.py` (the HTTP surface, `Console`: what it reads), `pages.py` (page models, pure),
`charts.py` (SVG chart geometry, pure), `api.py` (the JSON shapes, pure), `access.py` (the
token off loopback), `templates/` and `static/` (shipped with the package: nothing from a
CDN). The reads are `reconciler.store.views`. See docs/console.md.
"""

from reconciler.console.access import TOKEN_ENV, Access
from reconciler.console.routes import Console, routes

__all__ = ["TOKEN_ENV", "Access", "Console", "routes"]
