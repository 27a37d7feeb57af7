"""Blocks of the memory family (being written)."""
