"""Blocks of the mlp family (being written)."""
