"""Batches of ``noisy_recall`` (torch); the task's entry is ``workers.tasks.noisy_recall``."""
from __future__ import annotations

from workers.tasks.in_context_recall_data import generate
from workers.tasks.noisy_recall import NAME
from workers.tasks.sampling import next_token_train_labels, split_filtered


make_batch = next_token_train_labels(split_filtered(NAME, generate))
