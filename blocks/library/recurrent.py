"""Blocks of the recurrent family (being written)."""
