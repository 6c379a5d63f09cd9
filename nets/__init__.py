"""Face models and detectors built on nanonet."""
