"""Telemetry: DESIGN.md's names (`names`), Prometheus metrics (`metrics`), OpenTelemetry traces
(`tracing`). Import the submodule you need: `names` is free, `metrics` loads the Prometheus
client, `tracing` the OpenTelemetry API (and the SDK only when traces are on)."""
