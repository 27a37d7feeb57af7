"""Blocks of the moe family (being written)."""
