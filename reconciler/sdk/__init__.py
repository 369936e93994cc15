"""The control-plane SDK for a team's own Flower app.

Wrap the ServerApp's strategy in `ControlledStrategy` (or call a `Controller` from a custom
round loop) and declare `thunderline-control = ""` in the app's `[tool.flwr.app.config]`:
the run then reports rounds, metrics and checkpoints to the reconciler and obeys pause,
resume and stop like the built-in app; its tasks are held to the spec's lease and sent
only to the SuperNodes its clientSelector allows. The ClientApp reports what it processed
as the `PROCESSED_METRIC` metric (tokens) and calls `answer_label_queries(app)` for node
selection. docs/byo-apps.md shows both ways.
"""

from reconciler.flowerapp.lease import PROCESSED_METRIC
from reconciler.flowerapp.nodes import answer_label_queries
from reconciler.runtime.progress import Directive
from reconciler.sdk.controller import Controller, checkpoint_bytes, load_checkpoint
from reconciler.sdk.strategy import ControlledStrategy, RunHalted
from reconciler.specs.apps import APP_CONTROL_KEY

__all__ = [
    "APP_CONTROL_KEY",
    "PROCESSED_METRIC",
    "ControlledStrategy",
    "Controller",
    "Directive",
    "RunHalted",
    "answer_label_queries",
    "checkpoint_bytes",
    "load_checkpoint",
]
