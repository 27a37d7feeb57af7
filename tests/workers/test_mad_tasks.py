"""MAD's task suite (in-context, fuzzy and noisy recall, selective copying, compression, memorization),
finite training sets in epochs, and the rule that only non-next-token tasks train non-causal blocks."""
from __future__ import annotations

import pytest
import torch

from blocks.spec import NONCAUSAL, SpecInvalid, validate_spec
from tests.workers.conftest import TINY_SPEC, build_tiny
from workers.tasks import IGNORE_INDEX, MAX_POOL_TOKENS, fuzzy_recall, get_task, memorization, resolve_task_params
from workers.tasks.memorization_data import table as memorization_table
from workers.tasks.sampling import example_split, finite_train_set, pool_position, train_pool
from workers.trainer import train

MAD_TASKS = ["compression", "fuzzy_recall", "in_context_recall", "memorization", "noisy_recall", "selective_copy"]

# Small params per task so the tests stay fast.
SMALL = {
    "in_context_recall": {"vocab_size": 16, "seq_len": 32},
    "noisy_recall": {"vocab_size": 32, "noise_vocab_size": 16, "seq_len": 32, "frac_noise": 0.3},
    "fuzzy_recall": {"vocab_size": 16, "seq_len": 64},
    "selective_copy": {"vocab_size": 16, "seq_len": 32, "num_tokens": 4},
    "compression": {"vocab_size": 16, "seq_len": 16},
    "memorization": {"vocab_size": 32, "seq_len": 16},
}

# MAD's benchmark settings: the baseline and each harder value of one factor at a time.
MAD_SETTINGS = {
    "in_context_recall": ({"vocab_size": 16, "seq_len": 128, "train_examples": 12800},
                          {"vocab_size": [32, 64, 128], "seq_len": [256, 512, 1024],
                           "train_examples": [6400, 3200, 1600, 800]}),
    "fuzzy_recall": ({"vocab_size": 16, "seq_len": 128, "k_motif_size": 3, "v_motif_size": 3, "train_examples": 12800},
                     {"vocab_size": [32, 64, 128], "seq_len": [256, 512, 1024],
                      "train_examples": [6400, 3200, 1600, 800]}),
    "noisy_recall": ({"vocab_size": 32, "noise_vocab_size": 16, "seq_len": 128, "frac_noise": 0.2,
                      "train_examples": 12800},
                     {"vocab_size": [48, 80, 144], "seq_len": [256, 512, 1024],
                      "train_examples": [6400, 3200, 1600, 800], "frac_noise": [0.4, 0.6, 0.8]}),
    "selective_copy": ({"vocab_size": 16, "seq_len": 256, "num_tokens": 16, "train_examples": 12800},
                       {"vocab_size": [32, 64, 128], "seq_len": [512, 1024],
                        "train_examples": [6400, 3200, 1600, 800], "num_tokens": [32, 64, 96]}),
    "compression": ({"vocab_size": 16, "seq_len": 32, "train_examples": 12800},
                    {"vocab_size": [32, 64, 128], "seq_len": [64, 128, 256],
                     "train_examples": [6400, 3200, 1600, 800]}),
    "memorization": ({"vocab_size": 256, "seq_len": 32, "train_examples": 256},
                     {"vocab_size": [512, 1024, 2048, 4096, 8192]}),
}


def params_of(name, **overrides):
    params, errors = resolve_task_params(name, {**SMALL[name], **overrides})
    assert errors == [], errors
    return params


def batch(name, params, split="train", index=0, batch_size=8, seed=0):
    return get_task(name).make_batch(params, split=split, index=index, batch_size=batch_size, seed=seed)


def mad_settings(name):
    baseline, changes = MAD_SETTINGS[name]
    yield baseline
    for key, values in changes.items():
        for value in values:
            yield {**baseline, key: value}


@pytest.mark.parametrize("name", MAD_TASKS)
def test_every_mad_setting_is_accepted(name):
    for setting in mad_settings(name):
        params, errors = resolve_task_params(name, setting)
        assert errors == [], (setting, errors)
        assert get_task(name).seq_len(params) == setting["seq_len"]


def test_registry_declares_objectives_and_held_out_eval():
    assert get_task("compression").objective == "reconstruct" and not get_task("compression").next_token
    for name in ["mqar", "in_context_recall", "fuzzy_recall", "noisy_recall", "selective_copy", "memorization"]:
        assert get_task(name).next_token
    assert not get_task("memorization").eval_held_out and get_task("in_context_recall").eval_held_out
    described = get_task("compression").to_json()
    assert described["objective"] == "reconstruct" and described["next_token"] is False


@pytest.mark.parametrize("name", MAD_TASKS)
def test_shapes_ranges_and_determinism(name):
    task, params = get_task(name), params_of(name)
    for split in ("train", "eval"):
        x, y = batch(name, params, split=split, index=3, seed=7)
        assert x.shape == y.shape == (8, task.seq_len(params)) and x.dtype == y.dtype == torch.int64
        assert 0 <= int(x.min()) and int(x.max()) < task.vocab_size(params)
        labelled = y[y != IGNORE_INDEX]
        assert labelled.numel() > 0 and int(labelled.max()) < task.vocab_size(params)
        again = batch(name, params, split=split, index=3, seed=7)
        assert torch.equal(x, again[0]) and torch.equal(y, again[1])
        assert not torch.equal(x, batch(name, params, split=split, index=4, seed=7)[0])


def check_recall_row(x, y, keys, plain):
    """Eval labels of in-context recall: the value of every key seen in an earlier pair, nothing else."""
    values = {}
    for i in range(0, len(x) - 2, 2):
        key, value = x[i], x[i + 1]
        if key >= plain:  # a noise slot: two noise tokens, no label
            assert value >= plain and y[i] == IGNORE_INDEX
            continue
        assert key < keys <= value < plain
        assert y[i] == (values[key] if key in values else IGNORE_INDEX)
        assert values.setdefault(key, value) == value  # a key keeps its value
        assert y[i + 1] == IGNORE_INDEX
    probe, answer = x[-2], x[-1]
    assert probe in values and answer == values[probe] and y[-2] == answer and y[-1] == IGNORE_INDEX


@pytest.mark.parametrize("name", ["in_context_recall", "noisy_recall"])
def test_recall_labels_are_the_values_of_returning_keys(name):
    params = params_of(name)
    noise = params.get("noise_vocab_size", 0)
    plain = params["vocab_size"] - noise
    x, y = batch(name, params, split="eval", batch_size=32)
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        check_recall_row(x_row, y_row, plain // 2, plain)
    # Training labels every next token, as MAD trains (the last position has none).
    x, y = batch(name, params, split="train", batch_size=4)
    assert torch.equal(y[:, :-1], x[:, 1:]) and bool((y[:, -1] == IGNORE_INDEX).all())


def test_in_context_recall_takes_mads_small_vocabularies_and_queries_repeatedly():
    params = params_of("in_context_recall", vocab_size=16, seq_len=128)
    x, y = batch("in_context_recall", params, split="eval", batch_size=16)
    assert int(x.max()) < 16
    # 8 keys over 63 pairs: almost every pair is a query.
    assert (y != IGNORE_INDEX).sum(dim=1).float().mean() > 40


def test_noisy_recall_noise_comes_from_its_own_vocabulary_at_the_given_fraction():
    params = params_of("noisy_recall", seq_len=128, frac_noise=0.4)
    x, _ = batch("noisy_recall", params, split="train", batch_size=64)
    slots = x[:, :-2:2]
    noisy = slots >= params["vocab_size"] - params["noise_vocab_size"]
    assert abs(float(noisy.float().mean()) - 0.4) < 0.05
    assert bool((x[:, :-2:2][noisy] >= 16).all()) and bool((x[:, 1:-2:2][noisy] >= 16).all())


def motifs_of(tokens, keys, pad):
    """Split a fuzzy-recall sequence (after its padding) into alternating key and value runs."""
    runs, current, is_key = [], [], None
    for token in tokens:
        if token == pad:
            continue
        kind = token < keys
        if current and kind != is_key:
            runs.append((is_key, current))
            current = []
        current.append(token)
        is_key = kind
    runs.append((is_key, current))
    return runs


@pytest.mark.parametrize("split", ["train", "eval"])
def test_fuzzy_recall_scores_every_token_of_a_returning_keys_value(split):
    params = params_of("fuzzy_recall")
    keys, _ = fuzzy_recall.halves(params["vocab_size"])
    pad = params["vocab_size"] - 1
    x, y = get_task("fuzzy_recall").make_batch(params, split=split, index=0, batch_size=16, seed=0)
    if split == "train":  # MAD's training targets: every next token
        assert torch.equal(y[:, :-1], x[:, 1:])
        return
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        full = x_row + [y_row[-1]]  # the last value token is only a target
        labels = [IGNORE_INDEX] + y_row  # labels[t]: the label of predicting full[t]
        runs = motifs_of(full, keys, pad)
        assert runs[0][0] is True and len(runs) % 2 == 0
        seen, position = {}, full.index(next(t for t in full if t != pad))
        for (_, key), (is_value, value) in zip(runs[0::2], runs[1::2]):
            assert is_value is False and len(key) == params["k_motif_size"]  # eval keys: full size
            assert 1 <= len(value) <= params["v_motif_size"] and len(set(key)) == len(key)
            value_at = position + len(key)
            expected = value if tuple(key) in seen else [IGNORE_INDEX] * len(value)
            assert labels[value_at:value_at + len(value)] == expected
            assert seen.setdefault(tuple(key), value) == value
            position = value_at + len(value)
        assert labels[-len(runs[-1][1]):] == runs[-1][1]  # the final probe is always asked


def test_fuzzy_training_keys_vary_in_size():
    params = params_of("fuzzy_recall")
    keys, _ = fuzzy_recall.halves(params["vocab_size"])
    x, _ = batch("fuzzy_recall", params, split="train", batch_size=16)
    sizes = {len(run) for row in x.tolist() for is_key, run in motifs_of(row, keys, params["vocab_size"] - 1)[:-1]
             if is_key}
    assert sizes == {1, 2, 3}


def test_selective_copy_takes_mads_settings_and_keeps_its_defaults():
    assert get_task("selective_copy").defaults() == {"seq_len": 64, "num_tokens": 8, "vocab_size": 16,
                                                     "train_examples": 0}
    params = params_of("selective_copy", seq_len=256, num_tokens=16, train_examples=64)
    x, y = batch("selective_copy", params, batch_size=4)
    assert torch.equal(y[:, -16:], x[:, :-16][x[:, :-16] > 1].view(4, 16))


def test_compression_labels_are_the_sequence_itself_except_the_compression_token():
    params = params_of("compression")
    x, y = batch("compression", params, split="eval")
    assert bool((x[:, -1] == 15).all()) and int(x[:, :-1].max()) < 15
    assert torch.equal(y[:, :-1], x[:, :-1]) and bool((y[:, -1] == IGNORE_INDEX).all())


def test_memorization_table_is_fixed_by_its_params_and_eval_walks_it():
    params = params_of("memorization")
    table = memorization_table(32, params["table_seed"])
    keys = memorization.num_keys(32)
    assert sorted(table.tolist()) == sorted(set(table.tolist())) and int(table.min()) >= keys
    for seed in (0, 5):
        x, y = batch("memorization", params, split="train", seed=seed)
        assert bool((x[:, 1::2] == 31).all()) and torch.equal(y[:, 1::2], table[x[:, 0::2]])
    other = params_of("memorization", table_seed=1)
    assert not torch.equal(memorization_table(32, 1), table)
    x, y = batch("memorization", other, split="eval")
    assert torch.equal(y[:, 1::2], memorization_table(32, 1)[x[:, 0::2]])
    # Eval is the table itself: consecutive eval examples ask every key in turn.
    x, _ = batch("memorization", params, split="eval", batch_size=2)  # 2 x 8 queries >= 15 keys
    assert set(x[:, 0::2].flatten().tolist()) == set(range(keys))


@pytest.mark.parametrize("name,tiny", [
    ("in_context_recall", {"vocab_size": 6, "seq_len": 12}),  # 3 keys over 5 pairs
    ("noisy_recall", {"vocab_size": 8, "noise_vocab_size": 2, "seq_len": 12, "frac_noise": 0.3}),
    ("fuzzy_recall", {"vocab_size": 7, "seq_len": 16, "k_motif_size": 1, "v_motif_size": 1}),
    ("compression", {"vocab_size": 4, "seq_len": 5}),  # 81 sequences
    ("selective_copy", {"vocab_size": 6, "seq_len": 8, "num_tokens": 2}),
])
def test_train_and_eval_examples_never_coincide(name, tiny):
    params, errors = resolve_task_params(name, tiny)
    assert errors == []
    rows = {"train": set(), "eval": set()}
    for index in range(8):
        for split in rows:
            x, y = batch(name, params, split=split, index=index, batch_size=16)
            rows[split] |= {tuple(x_row.tolist()) + (int(y_row[-1]),) for x_row, y_row in zip(x, y)}
    assert len(rows["train"]) > 1 and len(rows["eval"]) > 1
    assert rows["train"].isdisjoint(rows["eval"])


@pytest.mark.parametrize("name", ["mqar", "compression", "in_context_recall", "memorization"])
def test_a_finite_training_set_is_seen_once_per_epoch_in_a_new_order(name):
    small = {"mqar": {"seq_len": 32, "vocab_size": 64, "num_kv_pairs": 4}}.get(name) or SMALL[name]
    params, errors = resolve_task_params(name, {**small, "train_examples": 20})
    assert errors == []
    task = get_task(name)
    xs = torch.cat([task.make_batch(params, split="train", index=i, batch_size=8, seed=3)[0] for i in range(5)])
    epochs = [xs[:20], xs[20:40]]  # 40 examples: exactly two epochs, the third batch straddling them
    pool = {tuple(row) for row in epochs[0].tolist()}
    assert sorted(map(tuple, epochs[1].tolist())) == sorted(map(tuple, epochs[0].tolist()))
    assert not torch.equal(epochs[0], epochs[1])  # reshuffled
    assert len(pool) > 10
    assert pool_position(2, 8, 20) == (0, 16) and pool_position(5, 8, 20) == (2, 0)
    # Fixed per (params, seed); a fresh set for another seed.
    again = torch.cat([task.make_batch(params, split="train", index=i, batch_size=8, seed=3)[0] for i in range(5)])
    assert torch.equal(xs, again)
    other = {tuple(row) for row in task.make_batch(params, split="train", index=0, batch_size=20, seed=4)[0].tolist()}
    assert other != pool
    if task.eval_held_out:  # never an eval example
        eval_x = task.make_batch(params, split="eval", index=0, batch_size=64, seed=3)[0]
        assert pool.isdisjoint({tuple(row) for row in eval_x.tolist()})


def test_training_pools_are_generated_once_and_cached():
    params = params_of("in_context_recall", train_examples=1500)
    calls = []

    def counting(params, *, split, index, batch_size, seed):
        calls.append(batch_size)
        return get_task("compression").make_batch({"vocab_size": 16, "seq_len": 32, "train_examples": 0},
                                                  split=split, index=index, batch_size=batch_size, seed=seed)

    first = train_pool("counting-task", counting, params, 0)
    assert calls == [1024, 476]  # in chunks, each from the train split
    assert train_pool("counting-task", counting, params, 0) is first and calls == [1024, 476]
    assert first[0].dtype == torch.int16 and all(example_split(x.long(), y.long()) == "train"
                                                 for x, y in zip(first[0][:50], first[1][:50]))


def test_eval_batches_are_made_once_per_run():
    calls = []

    def counting(params, *, split, index, batch_size, seed):
        calls.append((split, index))
        return get_task("compression").make_batch(params, split=split, index=index, batch_size=batch_size, seed=seed)

    make_batch = finite_train_set("counting-eval-task", counting)
    params = params_of("compression")
    first = make_batch(params, split="eval", index=0, batch_size=4, seed=0)
    second = make_batch(params, split="eval", index=0, batch_size=4, seed=0)
    assert calls == [("eval", 0)] and torch.equal(first[0], second[0]) and second[0].dtype == torch.int64
    make_batch(params, split="train", index=0, batch_size=4, seed=0)
    make_batch(params, split="train", index=0, batch_size=4, seed=0)
    assert calls == [("eval", 0), ("train", 0), ("train", 0)]  # fresh train examples are not kept


@pytest.mark.parametrize("name,given,field", [
    ("in_context_recall", {"seq_len": 33}, "seq_len"),
    ("in_context_recall", {"vocab_size": 4, "seq_len": 8}, "seq_len"),  # 2 keys, 3 pairs: 8 sequences
    ("noisy_recall", {"vocab_size": 16, "noise_vocab_size": 16}, "noise_vocab_size"),
    ("noisy_recall", {"vocab_size": 17, "noise_vocab_size": 16}, "noise_vocab_size"),
    ("noisy_recall", {"frac_noise": 1.0}, "frac_noise"),
    ("fuzzy_recall", {"vocab_size": 7, "k_motif_size": 4}, "k_motif_size"),
    ("fuzzy_recall", {"seq_len": 16}, "seq_len"),
    ("compression", {"vocab_size": 3, "seq_len": 4}, "seq_len"),
    ("memorization", {"seq_len": 31}, "seq_len"),
    ("selective_copy", {"train_examples": -1}, "train_examples"),
    ("in_context_recall", {"seq_len": 1024, "train_examples": MAX_POOL_TOKENS // 1024 + 1}, "train_examples"),
])
def test_parameter_errors_name_the_field(name, given, field):
    _, errors = resolve_task_params(name, given)
    assert [e.field for e in errors] == [field], errors
    assert errors[0].to_json()["field"] == f"task_params.{field}"


# --- training ---------------------------------------------------------------------------------

QUICK = {"batch_size": 16, "eval_batches": 2, "warmup_steps": 10, "lr": 3e-3}


def chain(*blocks, **model):
    nodes = [{"id": "in", "type": "input"}, *({"id": f"b{i}", "type": t} for i, t in enumerate(blocks)),
             {"id": "out", "type": "output"}]
    ids = [node["id"] for node in nodes]
    return {"version": 1, "model": {"d_model": 32, "max_seq_len": 32, "norm": "rmsnorm", **model},
            "nodes": nodes, "edges": [list(pair) for pair in zip(ids, ids[1:])]}


def test_tiny_attention_memorizes_the_table_well_above_chance():
    torch.set_num_threads(1)
    summary = train(TINY_SPEC, "memorization", {"vocab_size": 32, "seq_len": 16, "train_examples": 64},
                    {**QUICK, "steps": 150, "eval_every": 150}, build_model=build_tiny)
    assert summary["eval_accuracy"] > 0.5  # chance is 1/16


def test_compression_trains_an_encoder_and_decoder_above_chance():
    torch.set_num_threads(1)
    summary = train(chain("softmax_attention", "mlp"), "compression", {"vocab_size": 8, "seq_len": 8},
                    {**QUICK, "steps": 150, "eval_every": 150})
    assert summary["eval_accuracy"] > 0.25  # chance is 1/7


def test_tiny_attention_learns_in_context_recall_above_chance():
    torch.set_num_threads(1)
    summary = train(TINY_SPEC, "in_context_recall", {"vocab_size": 16, "seq_len": 32},
                    {**QUICK, "steps": 400, "eval_every": 400, "eval_batches": 4}, build_model=build_tiny)
    assert summary["eval_accuracy"] > 0.25  # chance is 1/8


# --- non-causal blocks ------------------------------------------------------------------------


def test_validate_spec_decides_causality_from_the_task():
    spec = chain("fnet", "mlp", allow_noncausal=True)
    refused = validate_spec(spec, vocab_size=16, causal=True)
    assert not refused.ok
    [error] = refused.errors
    assert (error.node_id, error.field, error.code) == ("b0", "type", NONCAUSAL)
    assert "next-token" in error.message and "allow_noncausal" in error.message
    assert validate_spec(spec, vocab_size=16, causal=False).ok
    assert validate_spec(spec, vocab_size=16).ok  # no task known: a draft keeps allow_noncausal's say
    spec["model"]["allow_noncausal"] = False
    assert validate_spec(spec, vocab_size=16, causal=False).ok
    assert [e.code for e in validate_spec(spec, vocab_size=16).errors] == [NONCAUSAL]


def test_fnet_is_refused_on_a_next_token_task_even_with_allow_noncausal():
    spec = chain("fnet", "mlp", allow_noncausal=True)
    with pytest.raises(SpecInvalid) as caught:
        train(spec, "mqar", {"seq_len": 32, "vocab_size": 64, "num_kv_pairs": 2}, {**QUICK, "steps": 1})
    [error] = caught.value.errors
    assert (error.node_id, error.field, error.code) == ("b0", "type", NONCAUSAL)


def test_fnet_trains_on_compression_without_allow_noncausal():
    torch.set_num_threads(1)
    summary = train(chain("fnet", "mlp"), "compression", {"vocab_size": 8, "seq_len": 8},
                    {**QUICK, "steps": 5, "eval_every": 5})
    assert summary["steps"] == 5 and summary["eval_accuracy"] is not None
