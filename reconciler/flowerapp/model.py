"""The model: multinomial logistic regression in numpy, and its file formats.

Called by the ClientApp (local training, evaluation), the ServerApp (central evaluation,
checkpoints) and the tests (the centralized baseline trains the same model here).
Parameters are a dict of named float32 arrays: `weights` [features, classes], `bias`
[classes]. Training is deterministic for a given `numpy.random.Generator`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Params = dict[str, npt.NDArray[np.float32]]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


class ModelFormatError(ValueError):
    """A model file this app cannot read or a parameter set of the wrong shape."""


def check_params(params: Mapping[str, npt.NDArray[np.generic]], features: int) -> Params:
    """Validate names and shapes; return float32 copies."""
    if set(params) != {"weights", "bias"}:
        raise ModelFormatError(f"expected arrays 'weights' and 'bias', got {sorted(params)}")
    weights, bias = params["weights"], params["bias"]
    if weights.ndim != 2 or weights.shape[0] != features or bias.shape != (weights.shape[1],):
        raise ModelFormatError(
            f"weights {weights.shape} / bias {bias.shape} do not fit {features} features"
        )
    return {"weights": weights.astype(np.float32), "bias": bias.astype(np.float32)}


def _probabilities(
    weights: npt.NDArray[np.floating[Any]], bias: npt.NDArray[np.floating[Any]], x: FloatArray
) -> npt.NDArray[np.float64]:
    logits = x.astype(np.float64) @ weights.astype(np.float64) + bias
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    probs: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
    return probs


def _cross_entropy(probs: npt.NDArray[np.float64], y: IntArray) -> float:
    picked = probs[np.arange(len(y)), y]
    return float(-np.log(np.clip(picked, 1e-12, None)).mean())


def evaluate(params: Params, x: FloatArray, y: IntArray) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) on a labelled set."""
    probs = _probabilities(params["weights"], params["bias"], x)
    accuracy = float((probs.argmax(axis=1) == y).mean())
    return _cross_entropy(probs, y), accuracy


def train(
    params: Params,
    x: FloatArray,
    y: IntArray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
    prox_mu: float = 0.0,
) -> tuple[Params, float]:
    """Mini-batch SGD from `params`; FedProx adds mu/2 * ||w - w_start||^2 when mu > 0.

    Computes in float64, returns float32 parameters and the mean loss of the last epoch.
    """
    start = {k: v.astype(np.float64) for k, v in params.items()}
    current = {k: v.copy() for k, v in start.items()}
    onehot = np.eye(current["bias"].shape[0])[y]
    losses: list[float] = []
    for _ in range(epochs):
        losses = []
        order = rng.permutation(len(y))
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            probs = _probabilities(current["weights"], current["bias"], x[batch])
            losses.append(_cross_entropy(probs, y[batch]))
            error = (probs - onehot[batch]) / len(batch)
            grads = {"weights": x[batch].astype(np.float64).T @ error, "bias": error.sum(axis=0)}
            for name, grad in grads.items():
                current[name] -= learning_rate * (grad + prox_mu * (current[name] - start[name]))
    trained = {k: v.astype(np.float32) for k, v in current.items()}
    return trained, float(np.mean(losses)) if losses else 0.0


def npz_bytes(arrays: Mapping[str, npt.NDArray[np.generic]]) -> bytes:
    """An .npz whose bytes depend only on the arrays (sorted names, fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w") as entry:
                array = np.ascontiguousarray(arrays[name])
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return buf.getvalue()


def load_model(path: Path, fmt: str) -> dict[str, npt.NDArray[np.generic]]:
    """Read a model file: `npz` (numpy arrays) or `torch` (a state_dict, needs PyTorch)."""
    if fmt == "npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelFormatError(f"cannot read npz model {path.name}: {exc}") from exc
    if fmt == "torch":
        return _load_torch(path)
    raise ModelFormatError(f"unsupported model format {fmt!r}")


def _load_torch(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise ModelFormatError(
            "modelRef.format 'torch' needs PyTorch installed where the Flower app runs"
        ) from exc
    state = torch.load(path, map_location="cpu", weights_only=True)
    arrays = {str(k): v.detach().numpy() for k, v in state.items()}
    if set(arrays) == {"weight", "bias"}:  # a torch.nn.Linear: weight is [classes, features]
        return {"weights": arrays["weight"].T.copy(), "bias": arrays["bias"]}
    return arrays
