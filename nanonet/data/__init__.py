"""Readers and transforms that turn files into arrays."""
