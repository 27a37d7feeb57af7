"""Blocks of the convolution family (being written)."""
