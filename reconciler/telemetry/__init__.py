"""Telemetry: Prometheus metrics (`metrics`) and OpenTelemetry traces (`tracing`)."""
