"""The telemetry names of DESIGN.md, shared by the daemon and the ServerApp.

Pure constants with no imports, so the ServerApp (inside a Flower run) can name its spans and
its report metrics without loading the Prometheus client.
"""

RECONCILE = "thunderline.reconcile"
FEDERATION_START = "thunderline.federation.start"
ROUND = "thunderline.round"
AGGREGATE = "thunderline.aggregate"
ARTIFACT_WRITE = "thunderline.artifact.write"
FEDERATION_COMPLETE = "thunderline.federation.complete"

DAEMON_SERVICE = "thunderline-reconciler"
APP_SERVICE = "thunderline-serverapp"

# The ServerApp's checkpoint report carries its aggregation time (seconds) under this metric
# key; the daemon's sink turns it into fl_aggregate_duration_seconds and stores nothing of it.
AGGREGATE_SECONDS = "aggregate_seconds"
