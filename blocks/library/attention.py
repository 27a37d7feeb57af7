"""Blocks of the attention family (being written)."""
