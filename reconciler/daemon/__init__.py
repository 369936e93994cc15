"""The daemon: the cycle, its worker and triggers, the HTTP endpoints, the progress sink."""
