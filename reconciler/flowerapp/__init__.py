"""The project's own Flower app: a ServerApp and a ClientApp that run a FederationSpec.

`settings` (pure, no Flower import) turns a spec and a control block into run config and
back; `server` and `client` are the apps Flower loads through the thin FAB in `fab/`;
`model` and `data` are the numpy model and the shard readers they share.
"""

from pathlib import Path

FAB_DIR = Path(__file__).resolve().parent / "fab"

__all__ = ["FAB_DIR"]
