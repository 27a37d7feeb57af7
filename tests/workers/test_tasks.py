"""The task registry: batch shapes and labels, determinism, disjoint splits, parameter errors, corpora."""
from __future__ import annotations

import json

import pytest
import torch

from workers.tasks import (
    IGNORE_INDEX,
    MIN_DISTINCT_EXAMPLES,
    TaskParamsInvalid,
    all_tasks,
    get_task,
    resolve_task_params,
    tasks_json,
    UnknownTask,
)
from workers.tasks import char_lm
from workers.tasks.sampling import example_split
from workers.tasks.char_lm import CorpusInvalid, corpus_from_upload, set_corpus_resolver
from workers.tasks.dyck import distinct_sequences
from workers.tasks.selective_copy import distinct_examples as selective_copy_examples

TASK_NAMES = ["char_lm", "copy", "dyck", "induction_heads", "mqar", "selective_copy"]

# Small params per task so the tests stay fast.
SMALL = {
    "mqar": {"seq_len": 32, "vocab_size": 64, "num_kv_pairs": 4},
    "selective_copy": {"seq_len": 24, "num_tokens": 4, "vocab_size": 10},
    "induction_heads": {"seq_len": 16, "vocab_size": 12},
    "copy": {"num_tokens": 6, "vocab_size": 10},
    "dyck": {"seq_len": 24, "max_depth": 5, "num_bracket_types": 3},
    "char_lm": {"seq_len": 32},
}


def params_of(name, **overrides):
    params, errors = resolve_task_params(name, {**SMALL[name], **overrides})
    assert errors == []
    return params


def batch(name, params, split="train", index=0, batch_size=8, seed=0):
    return get_task(name).make_batch(params, split=split, index=index, batch_size=batch_size, seed=seed)


def test_registry_lists_every_task_with_json_description():
    # MAD's tasks are covered by test_mad_tasks.py.
    mad = ["compression", "fuzzy_recall", "in_context_recall", "memorization", "noisy_recall"]
    assert [t.name for t in all_tasks()] == sorted(TASK_NAMES + mad)
    described = json.loads(json.dumps(tasks_json()))
    mqar = next(t for t in described if t["name"] == "mqar")
    assert {p["name"] for p in mqar["params"]} >= {"vocab_size", "seq_len", "num_kv_pairs"}
    assert mqar["default_vocab_size"] == 256 and mqar["default_seq_len"] == 64
    assert mqar["params_schema"]["properties"]["num_kv_pairs"]["minimum"] == 1


def test_unknown_task_is_reported_not_raised():
    params, errors = resolve_task_params("nope", {})
    assert params == {} and errors[0].field == "task" and "nope" in errors[0].message
    with pytest.raises(UnknownTask):
        get_task("nope")


@pytest.mark.parametrize("name", TASK_NAMES)
def test_batch_shapes_dtypes_and_token_ranges(name):
    task = get_task(name)
    params = params_of(name)
    x, y = batch(name, params, batch_size=5)
    seq_len, vocab = task.seq_len(params), task.vocab_size(params)
    assert x.shape == y.shape == (5, seq_len)
    assert x.dtype == y.dtype == torch.int64
    assert 0 <= int(x.min()) and int(x.max()) < vocab
    labelled = y[y != IGNORE_INDEX]
    assert labelled.numel() > 0 and 0 <= int(labelled.min()) and int(labelled.max()) < vocab


@pytest.mark.parametrize("name", TASK_NAMES)
def test_same_seed_split_index_gives_same_batch_and_others_differ(name):
    params = params_of(name)
    x1, y1 = batch(name, params, index=3, seed=7)
    x2, y2 = batch(name, params, index=3, seed=7)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, batch(name, params, index=4, seed=7)[0])
    assert not torch.equal(x1, batch(name, params, index=3, seed=8)[0])
    assert not torch.equal(x1, batch(name, params, split="eval", index=3, seed=7)[0])


@pytest.mark.parametrize("name", [n for n in TASK_NAMES if n != "char_lm"])
def test_train_and_eval_examples_never_coincide(name):
    # A tiny example space makes collisions certain unless the split partition holds.
    tiny = {
        "mqar": {"seq_len": 16, "vocab_size": 17, "num_kv_pairs": 1},
        "selective_copy": {"seq_len": 8, "num_tokens": 2, "vocab_size": 6},  # 240 distinct examples
        "induction_heads": {"seq_len": 8, "vocab_size": 4},
        "copy": {"num_tokens": 3, "vocab_size": 6},  # 125
        "dyck": {"seq_len": 12, "max_depth": 3, "num_bracket_types": 1},  # 89
    }[name]
    params, errors = resolve_task_params(name, tiny)
    assert errors == []
    train_rows, eval_rows = set(), set()
    for index in range(10):
        for split, rows in (("train", train_rows), ("eval", eval_rows)):
            x, y = batch(name, params, split=split, index=index, batch_size=16)
            for x_row, y_row in zip(x, y):
                assert example_split(x_row, y_row) == split
                rows.add((tuple(x_row.tolist()), tuple(y_row.tolist())))
    assert len(eval_rows) > 1 and len(train_rows) > 1
    assert train_rows.isdisjoint(eval_rows)


def test_mqar_labels_are_the_values_of_the_queried_keys():
    params = params_of("mqar")
    x, y = batch("mqar", params, batch_size=16)
    pairs, half = params["num_kv_pairs"], params["vocab_size"] // 2
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        keys, values = x_row[0:2 * pairs:2], x_row[1:2 * pairs:2]
        assert all(1 <= k < half for k in keys) and all(v >= half for v in values)
        assert len(set(keys)) == pairs
        answers = [(t, label) for t, label in enumerate(y_row) if label != IGNORE_INDEX]
        assert len(answers) == pairs  # each key queried once
        for t, label in answers:
            assert t >= 2 * pairs, "no loss inside the key-value context"
            assert label == values[keys.index(x_row[t])]


def test_mqar_rejects_too_many_pairs_for_the_length_naming_the_field():
    _, errors = resolve_task_params("mqar", {"seq_len": 64, "num_kv_pairs": 17})
    assert [e.field for e in errors] == ["num_kv_pairs"]
    assert "4 * num_kv_pairs <= seq_len" in errors[0].message
    assert errors[0].to_json()["field"] == "task_params.num_kv_pairs"
    _, errors = resolve_task_params("mqar", {"seq_len": 63})
    assert "seq_len" in [e.field for e in errors]
    _, errors = resolve_task_params("mqar", {"vocab_size": 64, "seq_len": 128, "num_kv_pairs": 4})
    assert [e.field for e in errors] == ["vocab_size"]


def test_param_type_range_and_unknown_errors_are_all_reported():
    _, errors = resolve_task_params("mqar", {"seq_len": "long", "num_kv_pairs": 0, "colour": 1})
    by_field = {e.field: e for e in errors}
    assert set(by_field) == {"seq_len", "num_kv_pairs", "colour"}
    assert by_field["seq_len"].message == "must be an integer"
    assert by_field["num_kv_pairs"].message == "must be >= 1"
    assert "unknown parameter" in by_field["colour"].message
    assert "task_params.colour" in str(TaskParamsInvalid(errors))


def test_selective_copy_answers_are_the_scattered_tokens_in_order():
    params = params_of("selective_copy")
    x, y = batch("selective_copy", params, batch_size=16)
    count = params["num_tokens"]
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        scattered = [t for t in x_row[:-count] if t >= 2]
        assert scattered == y_row[-count:]
        assert x_row[-count:] == [1] * count
        assert y_row[:-count] == [IGNORE_INDEX] * (len(y_row) - count)
    _, errors = resolve_task_params("selective_copy", {"seq_len": 16, "num_tokens": 9})
    assert [e.field for e in errors] == ["num_tokens"]


def test_copy_second_half_repeats_the_first():
    params = params_of("copy")
    x, y = batch("copy", params)
    count = params["num_tokens"]
    assert torch.equal(y[:, count:], x[:, :count])
    assert (x[:, count] == 0).all()  # the separator
    assert (y[:, :count] == IGNORE_INDEX).all()


def test_induction_heads_answer_follows_the_first_trigger():
    params = params_of("induction_heads")
    x, y = batch("induction_heads", params, batch_size=16)
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        assert x_row[-1] == 0 and x_row[:-1].count(0) == 1
        first = x_row.index(0)
        assert y_row[-1] == x_row[first + 1]
        assert y_row[:-1] == [IGNORE_INDEX] * (len(y_row) - 1)


@pytest.mark.parametrize("target", ["closing", "depth"])
def test_dyck_sequences_are_balanced_and_labels_follow_the_stack(target):
    params = params_of("dyck", target=target)
    kinds, max_depth = params["num_bracket_types"], params["max_depth"]
    x, y = batch("dyck", params, batch_size=16)
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        stack, depths = [], []
        for token in x_row:
            if token <= kinds:
                stack.append(token - 1)
            else:
                assert stack and stack.pop() == token - 1 - kinds, "closing bracket must match"
            assert len(stack) <= max_depth
            depths.append(len(stack))
        assert stack == []
        if target == "depth":
            assert y_row == depths
        else:
            expected = [nxt if nxt > kinds else IGNORE_INDEX for nxt in x_row[1:]] + [IGNORE_INDEX]
            assert y_row == expected
    _, errors = resolve_task_params("dyck", {"seq_len": 23})
    assert [e.field for e in errors] == ["seq_len"]


def test_char_lm_windows_come_from_the_corpus_and_splits_by_position():
    params = params_of("char_lm")
    corpus = char_lm.builtin_corpus()
    assert 100_000 < len(corpus) <= 2 * 1024 * 1024
    boundary = corpus.split_range("eval")[0]
    text = corpus.data
    for split in ("train", "eval"):
        x, y = batch("char_lm", params, split=split, batch_size=8)
        assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one byte
        for x_row, y_row in zip(x.tolist(), y.tolist()):
            window = bytes(x_row + y_row[-1:])
            # The same phrase may occur in both parts, so check containment in the right part.
            assert window in (text[:boundary] if split == "train" else text[boundary:])


def test_uploaded_corpus_is_used_through_the_resolver():
    upload = corpus_from_upload(("héllo wörld, " * 200).encode("utf-8"), name="mine")
    set_corpus_resolver(lambda corpus_id: upload if corpus_id == 7 else None)
    try:
        params, errors = resolve_task_params("char_lm", {"corpus_id": 7, "seq_len": 16})
        assert errors == []
        x, _ = batch("char_lm", params)
        assert bytes(x[0].tolist()) in ("héllo wörld, " * 200).encode("utf-8")
        _, errors = resolve_task_params("char_lm", {"corpus_id": 8})
        assert [e.field for e in errors] == ["corpus_id"] and "not found" in errors[0].message
        _, errors = resolve_task_params("char_lm", {"corpus_id": 7, "seq_len": 1024})
        assert [e.field for e in errors] == ["seq_len"] and "too short" in errors[0].message
    finally:
        set_corpus_resolver(None)
    _, errors = resolve_task_params("char_lm", {"corpus_id": 7})
    assert [e.field for e in errors] == ["corpus_id"]


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"   \n\t ", "only whitespace"),
    (b"caf\xe9 latin-1", "not UTF-8"),
    (b"x" * 101, "limit is 100 bytes"),
])
def test_bad_uploads_are_refused_with_a_clear_message(data, message):
    with pytest.raises(CorpusInvalid, match=message) as caught:
        corpus_from_upload(data, max_bytes=100)
    assert caught.value.field == "corpus"


# --- properties over the whole parameter space ---------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def mqar_params(draw):
    pairs = draw(st.integers(1, 8))
    seq_len = 2 * draw(st.integers(max(2 * pairs, 4), 40))
    vocab = draw(st.integers(max(seq_len + 1, 2 * pairs + 2, 16), 512))
    return {"num_kv_pairs": pairs, "seq_len": seq_len, "vocab_size": vocab}


@settings(max_examples=30, deadline=None)
@given(params=mqar_params(), seed=st.integers(0, 2**31), index=st.integers(0, 10**6))
def test_mqar_every_answer_is_the_value_of_its_key_for_any_valid_params(params, seed, index):
    resolved, errors = resolve_task_params("mqar", params)
    assert errors == []
    x, y = get_task("mqar").make_batch(resolved, split="eval", index=index, batch_size=2, seed=seed)
    pairs = params["num_kv_pairs"]
    for x_row, y_row in zip(x.tolist(), y.tolist()):
        lookup = dict(zip(x_row[0:2 * pairs:2], x_row[1:2 * pairs:2]))
        answers = [(t, label) for t, label in enumerate(y_row) if label != IGNORE_INDEX]
        assert len(answers) == pairs
        assert all(lookup[x_row[t]] == label for t, label in answers)


@settings(max_examples=30, deadline=None)
@given(kinds=st.integers(1, 4), half=st.integers(4, 24), depth=st.integers(1, 6), p=st.floats(0.05, 0.95))
def test_dyck_is_balanced_within_max_depth_for_any_valid_params(kinds, half, depth, p):
    params, errors = resolve_task_params("dyck", {"num_bracket_types": kinds, "seq_len": 2 * half,
                                                  "max_depth": min(depth, half), "open_probability": p,
                                                  "target": "depth"})
    if errors:  # too few distinct sequences to hold out any: refused up front, never a failed batch
        assert [e.field for e in errors] == ["max_depth"] and "distinct example" in errors[0].message
        assert distinct_sequences(2 * half, kinds, min(depth, half)) < MIN_DISTINCT_EXAMPLES
        return
    _, depths = get_task("dyck").make_batch(params, split="train", index=0, batch_size=4, seed=0)
    assert int(depths.min()) >= 0 and int(depths.max()) <= params["max_depth"]
    assert (depths[:, -1] == 0).all()
    assert ((depths[:, 1:] - depths[:, :-1]).abs() == 1).all()


def _balanced_within(tokens, kinds, max_depth) -> bool:
    stack = []
    for token in tokens:
        if token < kinds:
            stack.append(token)
            if len(stack) > max_depth:
                return False
        elif not stack or stack.pop() != token - kinds:
            return False
    return not stack


@pytest.mark.parametrize("seq_len,kinds,max_depth", [(2, 1, 1), (6, 1, 2), (8, 1, 3), (6, 2, 3), (8, 2, 2), (4, 3, 2)])
def test_dyck_count_of_distinct_sequences_matches_enumeration(seq_len, kinds, max_depth):
    import itertools

    expected = sum(_balanced_within(t, kinds, max_depth) for t in itertools.product(range(2 * kinds), repeat=seq_len))
    assert distinct_sequences(seq_len, kinds, max_depth, cap=10**9) == expected


def test_selective_copy_count_of_distinct_examples_matches_enumeration():
    params = {"seq_len": 8, "num_tokens": 2, "vocab_size": 5}
    generated = {tuple(x.tolist()) for x in get_task("selective_copy").make_batch(
        params, split="train", index=0, batch_size=4000, seed=0)[0]}
    generated |= {tuple(x.tolist()) for x in get_task("selective_copy").make_batch(
        params, split="eval", index=0, batch_size=500, seed=0)[0]}
    assert len(generated) == selective_copy_examples(8, 2, 5, cap=10**9) == 15 * 9


@pytest.mark.parametrize("name,given,field", [
    ("dyck", {"seq_len": 8, "max_depth": 1, "num_bracket_types": 1}, "max_depth"),  # only "()()()()"
    ("copy", {"num_tokens": 1, "vocab_size": 3}, "num_tokens"),  # 2 examples
    ("selective_copy", {"seq_len": 8, "num_tokens": 1, "vocab_size": 4}, "num_tokens"),  # 14 examples
])
def test_parameters_with_too_few_distinct_examples_are_refused_naming_the_field(name, given, field):
    _, errors = resolve_task_params(name, given)
    assert [e.field for e in errors] == [field]
    assert f"at least {MIN_DISTINCT_EXAMPLES} are needed" in errors[0].message
