"""The training loop, driven with a tiny hand-written model (the compiler is covered by the example tests)."""
from __future__ import annotations

import json

import pytest
import torch

from tests.workers.conftest import TINY_SPEC, TinyCausalLM, build_tiny
from workers.checkpoint import SPEC_FILE, SUMMARY_FILE, WEIGHTS_FILE, load_checkpoint
from workers.environment import library_versions
from workers.tasks import TaskParamsInvalid, get_task, resolve_task_params
from workers.trainer import TrainConfig, TrainConfigInvalid, evaluate, lr_at, select_device, train

QUICK = {"steps": 6, "batch_size": 4, "eval_every": 3, "eval_batches": 1, "warmup_steps": 2}
MQAR_SMALL = {"seq_len": 32, "vocab_size": 64, "num_kv_pairs": 2}


def run(task="mqar", task_params=None, config=None, **kwargs):
    events = []
    summary = train(TINY_SPEC, task, MQAR_SMALL if task_params is None else task_params, {**QUICK, **(config or {})},
                    build_model=build_tiny, on_event=events.append, **kwargs)
    return summary, events


def train_losses(events):
    return [e["loss"] for e in events if e["type"] == "metrics" and e["split"] == "train"]


# Per task: small params and a step budget in which the tiny attention model must clearly learn.
LEARNS = {
    "mqar": ({"seq_len": 32, "vocab_size": 64, "num_kv_pairs": 2}, 150),
    "selective_copy": ({"seq_len": 24, "num_tokens": 4, "vocab_size": 8}, 100),
    "induction_heads": ({"seq_len": 16, "vocab_size": 8}, 300),
    "copy": ({"num_tokens": 8, "vocab_size": 8}, 100),
    "dyck": ({"seq_len": 24, "max_depth": 4}, 100),
    "char_lm": ({"seq_len": 32}, 100),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LEARNS))
def test_trainer_reduces_eval_loss_on_each_task(name):
    task_params, steps = LEARNS[name]
    config = TrainConfig(steps=steps, batch_size=16, eval_every=steps, eval_batches=2, warmup_steps=10)
    task = get_task(name)
    params, _ = resolve_task_params(name, task_params)
    torch.manual_seed(config.seed)
    untrained = build_tiny(TINY_SPEC, vocab_size=task.vocab_size(params), seed=config.seed)
    before = evaluate(untrained, task, params, config, torch.device("cpu"))["loss"]
    summary = train(TINY_SPEC, name, task_params, config, build_model=build_tiny)
    assert summary["stopped"] == "steps" and summary["steps"] == steps
    # 0.1 nats is more than what guessing the label distribution alone would give on these tasks.
    assert summary["final_eval_loss"] < before - 0.1, (before, summary["final_eval_loss"])


def test_summary_has_every_documented_field():
    summary, _ = run()
    for key in ("final_train_loss", "final_eval_loss", "eval_accuracy", "params", "tokens_per_s", "wall_seconds",
                "steps", "stopped", "device", "device_name", "versions", "checkpoint"):
        assert key in summary, key
    assert summary["steps"] == 6 and summary["stopped"] == "steps" and summary["device"] == "cpu"
    assert summary["tokens"] == 6 * 4 * 32
    assert summary["params"] == sum(p.numel() for p in build_tiny(TINY_SPEC, vocab_size=64, seed=0).parameters())
    # the one answer for versions (workers/environment.py), torch and python among them
    assert summary["versions"] == library_versions() and {"torch", "python"} <= set(summary["versions"])
    assert summary["versions"]["torch"] == torch.__version__
    assert 0 <= summary["eval_accuracy"] <= 1
    json.dumps(summary)  # the worker stores it as JSON


def test_events_carry_train_and_eval_metrics():
    _, events = run(config={"steps": 6, "eval_every": 3})
    train_events = [e for e in events if e["type"] == "metrics" and e["split"] == "train"]
    eval_events = [e for e in events if e["type"] == "metrics" and e["split"] == "eval"]
    assert [e["step"] for e in train_events] == [1, 2, 3, 4, 5, 6]
    assert [e["step"] for e in eval_events] == [3, 6]  # every eval_every steps; the last one is not repeated
    for event in train_events:
        assert {"loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s", "memory_bytes"} <= set(event)
        assert event["tokens_per_s"] > 0 and event["memory_bytes"] > 0
        assert "aux_loss" not in event  # the tiny model has none unless asked
    assert {"loss", "accuracy"} <= set(eval_events[0])
    assert events[0]["type"] == "log" and "parameters" in events[0]["message"]


def test_aux_loss_is_reported_and_trained_when_the_model_has_one():
    events = []
    train({**TINY_SPEC, "with_aux": True}, "mqar", MQAR_SMALL, QUICK, build_model=build_tiny, on_event=events.append)
    aux = [e["aux_loss"] for e in events if e.get("split") == "train"]
    assert len(aux) == 6 and all(a > 0 for a in aux)


def test_learning_rate_warms_up_linearly_then_decays_by_cosine():
    config = TrainConfig(steps=100, lr=1e-2, warmup_steps=10)
    assert lr_at(0, config) == pytest.approx(1e-3)
    assert lr_at(9, config) == pytest.approx(1e-2)
    assert lr_at(10, config) == pytest.approx(1e-2)
    assert lr_at(55, config) == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5))  # half-way through the decay
    assert lr_at(100, config) == pytest.approx(1e-3)  # floor: 10% of the peak
    schedule = [lr_at(s, config) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(schedule, schedule[1:]))


def test_gradients_are_clipped_to_the_configured_norm(monkeypatch):
    seen = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, max_norm, *args, **kwargs):
        seen.append(max_norm)
        return real_clip(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    run(config={"grad_clip": 0.25, "steps": 2})
    run(config={"grad_clip": 0, "steps": 1})
    assert seen == [0.25, 0.25, float("inf")]  # 0 turns clipping off


def test_same_seed_gives_bit_identical_loss_curve_and_another_seed_does_not():
    _, first = run(config={"steps": 8, "seed": 3})
    _, second = run(config={"steps": 8, "seed": 3})
    _, other = run(config={"steps": 8, "seed": 4})
    assert train_losses(first) == train_losses(second)  # exact equality, not approx
    assert [e["grad_norm"] for e in first if e.get("split") == "train"] == \
        [e["grad_norm"] for e in second if e.get("split") == "train"]
    assert train_losses(first) != train_losses(other)


def test_step_budget_stops_with_reason_steps():
    summary, events = run(config={"steps": 4})
    assert summary["stopped"] == "steps" and summary["steps"] == 4 and len(train_losses(events)) == 4


def test_token_budget_stops_before_exceeding_it():
    # 4 x 32 = 128 tokens a step: 300 tokens allow two steps.
    summary, events = run(config={"steps": 50, "max_tokens": 300})
    assert summary["stopped"] == "tokens" and summary["steps"] == 2 and summary["tokens"] == 256
    assert summary["final_eval_loss"] is not None  # still evaluated at the end


def test_time_budget_stops_with_reason_time():
    summary, _ = run(config={"steps": 100_000, "max_seconds": 0.3, "eval_every": 100_000})
    assert summary["stopped"] == "time"
    assert 0 < summary["steps"] < 100_000
    assert summary["wall_seconds"] < 10


def test_should_stop_cancels_cooperatively_within_a_step():
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3  # checked before every step: three steps run, the fourth never starts

    summary, events = run(config={"steps": 50}, should_stop=should_stop)
    assert summary["stopped"] == "cancelled" and summary["steps"] == 3
    assert len(train_losses(events)) == 3
    assert len(calls) == 4


def test_a_non_finite_loss_stops_training_as_diverged(monkeypatch):
    import workers.trainer

    real_loss, calls = workers.trainer._loss_and_correct, []

    def overflowing_loss(logits, y):
        loss, *rest = real_loss(logits, y)
        calls.append(1)
        return (loss * float("inf") if len(calls) == 2 else loss, *rest)

    monkeypatch.setattr(workers.trainer, "_loss_and_correct", overflowing_loss)
    summary, events = run(config={"steps": 50})
    assert summary["stopped"] == "diverged" and summary["steps"] == 2
    assert train_losses(events)[-1] == float("inf")
    assert any(e["type"] == "log" and "loss became inf at step 2" in e["message"] for e in events)


def test_checkpoint_holds_weights_spec_and_summary(tmp_path):
    summary, _ = run(out_dir=tmp_path / "ckpt")
    directory = tmp_path / "ckpt"
    assert summary["checkpoint"] == str(directory / WEIGHTS_FILE)
    assert json.loads((directory / SPEC_FILE).read_text()) == TINY_SPEC
    saved = json.loads((directory / SUMMARY_FILE).read_text())
    assert saved["final_train_loss"] == summary["final_train_loss"] and saved["checkpoint"] == summary["checkpoint"]
    fresh = TinyCausalLM(64, max_seq_len=128)
    untrained = {k: v.clone() for k, v in fresh.state_dict().items()}
    load_checkpoint(directory, fresh)
    assert any(not torch.equal(untrained[k], v) for k, v in fresh.state_dict().items())
    # The loaded model reproduces the final evaluation exactly.
    task = get_task("mqar")
    params, _ = resolve_task_params("mqar", MQAR_SMALL)
    reloaded = evaluate(fresh, task, params, TrainConfig(**QUICK), torch.device("cpu"))
    assert reloaded["loss"] == pytest.approx(summary["final_eval_loss"], abs=1e-6)


def test_bad_task_params_are_refused_before_training_naming_the_field():
    with pytest.raises(TaskParamsInvalid) as caught:
        run(task_params={"seq_len": 32, "num_kv_pairs": 9})
    assert caught.value.errors[0].field == "num_kv_pairs"
    with pytest.raises(TaskParamsInvalid, match="task"):
        run(task="no_such_task")


def test_task_longer_than_the_spec_allows_is_refused():
    with pytest.raises(TaskParamsInvalid, match="max_seq_len"):
        run(task_params={"seq_len": 256, "vocab_size": 512, "num_kv_pairs": 2})


@pytest.mark.parametrize("values, field", [
    ({"lr": -1}, "config.lr"),
    ({"steps": 0}, "config.steps"),
    ({"batch_size": 2.5}, "config.batch_size"),
    ({"device": "tpu"}, "config.device"),
    ({"max_seconds": 0}, "config.max_seconds"),
    ({"learning_rate": 0.1}, "config.learning_rate"),
])
def test_bad_config_is_refused_naming_the_field(values, field):
    with pytest.raises(TrainConfigInvalid) as caught:
        TrainConfig.from_dict(values)
    assert [e["field"] for e in caught.value.errors] == [field]


def test_device_choice_config_beats_environment_beats_auto(monkeypatch):
    monkeypatch.setenv("COMPOSER_DEVICE", "cpu")
    assert select_device(None).type == "cpu"
    monkeypatch.setenv("COMPOSER_DEVICE", "gpu")
    with pytest.raises(TrainConfigInvalid, match="COMPOSER_DEVICE"):
        select_device(None)
    assert select_device("cpu").type == "cpu"  # config overrides the bad environment
    monkeypatch.delenv("COMPOSER_DEVICE")
    assert select_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(TrainConfigInvalid, match="no CUDA device"):
            select_device("cuda")


def test_compiled_spec_gives_bit_identical_loss_curve():
    spec = {"version": 1, "model": {"d_model": 32, "max_seq_len": 64},
            "nodes": [{"id": "in", "type": "input"}, {"id": "attn", "type": "softmax_attention", "params": {"heads": 2}},
                      {"id": "mlp", "type": "mlp"}, {"id": "out", "type": "output"}],
            "edges": [["in", "attn"], ["attn", "mlp"], ["mlp", "out"]]}
    curves = []
    for _ in range(2):
        events = []
        train(spec, "mqar", MQAR_SMALL, {**QUICK, "steps": 4}, on_event=events.append)
        curves.append(train_losses(events))
    assert curves[0] == curves[1] and len(curves[0]) == 4
