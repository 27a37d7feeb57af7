"""Blocks of the structural family (being written)."""
