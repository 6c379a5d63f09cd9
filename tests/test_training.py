"""A tiny CNN learns a generated task: the layers, losses and optimizer work together."""
from tests.cases import train_bars


def test_tiny_cnn_learns_bars_above_95_percent():
    assert train_bars() > 0.95
