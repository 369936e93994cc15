"""quickstart-numpy: the model (linear regression in NumPy) and each node's data."""

import numpy as np

N_FEATURES = 4
TRUE_WEIGHTS = np.array([1.5, -2.0, 0.5, 3.0])
TRUE_BIAS = 0.7


def get_initial_params() -> list[np.ndarray]:
    return [np.zeros(N_FEATURES), np.zeros(1)]


def load_data(partition_id: int, num_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic, seeded partition: each node sees a differently shifted input range."""
    rng = np.random.default_rng(1000 + partition_id)
    x = rng.normal(loc=partition_id / max(1, num_partitions), size=(200, N_FEATURES))
    y = x @ TRUE_WEIGHTS + TRUE_BIAS + rng.normal(scale=0.1, size=200)
    return x, y


def loss(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    weights, bias = params
    return float(np.mean((x @ weights + bias - y) ** 2))


def train(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, lr: float
) -> list[np.ndarray]:
    """Full-batch gradient descent on the mean squared error."""
    weights, bias = params[0].copy(), params[1].copy()
    for _ in range(epochs):
        error = x @ weights + bias - y
        weights -= lr * 2 * x.T @ error / len(y)
        bias -= lr * 2 * np.mean(error)
    return [weights, bias]
