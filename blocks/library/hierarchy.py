"""Blocks of the hierarchy family (being written)."""
