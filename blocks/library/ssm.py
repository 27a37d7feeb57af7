"""Blocks of the ssm family (being written)."""
