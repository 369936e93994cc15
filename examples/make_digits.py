"""Make the example federation's data: scikit-learn's handwritten digits, split non-IID.

Writes `examples/data/digits/shard-{0,1,2}.npz` (training shards, one per SuperNode),
`examples/data/digits/test.npz` (held-out evaluation set) and
`examples/models/digits-logreg-init.npz` (the initial global model: zero weights).
Files are byte-for-byte reproducible (fixed seed, fixed zip timestamps), so the
sha256 values in `specs/` stay valid. Run: `python examples/make_digits.py`.

Non-IID split: each shard draws 70 % of its samples from its "own" classes
(shard k owns digits with label % 3 == k) and 30 % from the rest.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

HERE = Path(__file__).resolve().parent
SHARDS = 3
SEED = 7


def write_npz(path: Path, **arrays: np.ndarray) -> str:
    """Write an .npz whose bytes depend only on the arrays; return its sha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w") as entry:
                np.lib.format.write_array(entry, np.ascontiguousarray(array), allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def split(y: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    own = [np.flatnonzero(y % SHARDS == k) for k in range(SHARDS)]
    per_shard = len(y) // SHARDS
    shards = []
    taken = np.zeros(len(y), dtype=bool)
    for k in range(SHARDS):
        pool_own = rng.permutation(own[k][~taken[own[k]]])
        n_own = min(int(per_shard * 0.7), len(pool_own))
        chosen = pool_own[:n_own]
        taken[chosen] = True
        rest = rng.permutation(np.flatnonzero(~taken & (y % SHARDS != k)))
        extra = rest[: per_shard - n_own]
        taken[extra] = True
        shards.append(np.sort(np.concatenate([chosen, extra])))
    return shards


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(y))
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    data = HERE / "data" / "digits"
    print(f"test.npz      {write_npz(data / 'test.npz', x=x[test], y=y[test])}")
    for k, idx in enumerate(split(y[train], rng)):
        digest = write_npz(data / f"shard-{k}.npz", x=x[train][idx], y=y[train][idx])
        print(f"shard-{k}.npz   {digest}  ({len(idx)} samples)")
    init = HERE / "models" / "digits-logreg-init.npz"
    features, classes = x.shape[1], 10
    digest = write_npz(
        init,
        weights=np.zeros((features, classes), np.float32),
        bias=np.zeros(classes, np.float32),
    )
    print(f"digits-logreg-init.npz {digest}")


if __name__ == "__main__":
    main()
