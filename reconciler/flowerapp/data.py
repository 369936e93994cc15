"""Training data for one SuperNode: which shard is mine, and reading it.

Called by the ClientApp (its own shard) and the ServerApp (the evaluation set). A shard
is a labelled table: `npz` with arrays `x` [n, features] and `y` [n]; `csv` and
`parquet` with a `label` column (or `y`) and numeric feature columns.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from reconciler.flowerapp.model import FloatArray, IntArray
from reconciler.flowerapp.settings import Plan, Shard

LABEL_COLUMNS = ("label", "y")


class ShardError(ValueError):
    """No shard fits this SuperNode, or a shard cannot be read."""


def select_shard(plan: Plan, node_config: Mapping[str, object]) -> Shard:
    """This SuperNode's shard: by `partition-id`, else by the node's `tags`.

    When any shard declares a `partition`, partition ids match those; otherwise shards
    are numbered by their position in the list. A node without a partition id takes the
    first shard whose tags it all carries (node config `tags`, comma-separated).
    """
    if "partition-id" in node_config:
        wanted = int(str(node_config["partition-id"]))
        explicit = any(shard.partition is not None for shard in plan.shards)
        for index, shard in enumerate(plan.shards):
            if (shard.partition if explicit else index) == wanted:
                return shard
        raise ShardError(f"no shard for partition-id {wanted} ({len(plan.shards)} shards)")
    tags = {t.strip() for t in str(node_config.get("tags", "")).split(",") if t.strip()}
    for shard in plan.shards:
        if shard.tags and set(shard.tags) <= tags:
            return shard
    raise ShardError(f"no shard matches this SuperNode's tags {sorted(tags)}")


def load_xy(path: Path, schema: str) -> tuple[FloatArray, IntArray]:
    """Features (float32) and labels (int64) of a shard file."""
    if schema == "npz":
        with np.load(path, allow_pickle=False) as data:
            if not {"x", "y"} <= set(data.files):
                raise ShardError(f"{path.name}: npz shard needs arrays 'x' and 'y'")
            return data["x"].astype(np.float32), data["y"].astype(np.int64)
    if schema == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return _split_columns(path.name, list(csv.DictReader(handle)))
    if schema == "parquet":
        return _read_parquet(path)
    raise ShardError(f"unsupported shard schema {schema!r}")


def _split_columns(name: str, rows: list[dict[str, str]]) -> tuple[FloatArray, IntArray]:
    if not rows:
        raise ShardError(f"{name}: no rows")
    label = next((c for c in LABEL_COLUMNS if c in rows[0]), None)
    if label is None:
        raise ShardError(f"{name}: needs a 'label' or 'y' column")
    features = [c for c in rows[0] if c != label]
    x = np.array([[float(r[c]) for c in features] for r in rows], dtype=np.float32)
    y = np.array([int(float(r[label])) for r in rows], dtype=np.int64)
    return x, y


def _read_parquet(path: Path) -> tuple[FloatArray, IntArray]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise ShardError("parquet shards need pyarrow installed where the app runs") from exc
    table = pq.read_table(path).to_pydict()
    rows = [
        dict(zip(table, map(str, values), strict=True))
        for values in zip(*table.values(), strict=True)
    ]
    return _split_columns(path.name, rows)
