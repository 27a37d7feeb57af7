"""`composer train` and `composer export`: end to end in a subprocess, and the examples through the CLI path."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from composer.cli import main
from blocks.registry import UnknownBlockType, get_block

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.json") if p.name != "index.json")
# `python -m composer.cli` needs a composer/cli/__main__.py; calling main() this way needs nothing else.
CLI = [sys.executable, "-c", "import sys; from composer.cli import main; sys.exit(main())"]
TINY_MQAR = ["--task", "mqar", "--task-param", "seq_len=32", "--task-param", "num_kv_pairs=2",
             "--task-param", "vocab_size=64"]


def tiny_spec(tmp_path: Path) -> Path:
    spec = json.loads((EXAMPLES / "transformer.json").read_text())
    spec["model"]["d_model"] = 32
    spec["nodes"][1]["params"]["times"] = 1
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.slow
def test_train_end_to_end_writes_summary_metrics_and_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        CLI + ["train", str(tiny_spec(tmp_path)), *TINY_MQAR, "--steps", "6", "--eval-every", "3",
               "--batch-size", "4", "--seed", "1", "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["steps"] == 6 and summary["stopped"] == "steps" and summary["seed"] == 1
    for key in ("final_train_loss", "final_eval_loss", "eval_accuracy", "params", "tokens_per_s", "wall_seconds"):
        assert summary[key] is not None, key
    assert "6/6" in result.stderr  # the tqdm bar went to stderr
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in lines if e["split"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [e["step"] for e in lines if e["split"] == "eval"] == [3, 6]
    assert {"model.safetensors", "spec.json", "summary.json", "metrics.jsonl"} <= {p.name for p in out.iterdir()}


@pytest.mark.slow
def test_train_bad_task_param_exits_2_naming_the_field(tmp_path):
    result = subprocess.run(
        CLI + ["train", str(tiny_spec(tmp_path)), "--task", "mqar", "--task-param", "num_kv_pairs=40", "--steps", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 2
    assert "task_params.num_kv_pairs" in result.stderr and "4 * num_kv_pairs <= seq_len" in result.stderr
    assert result.stdout == ""


def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_bad_spec_exits_2_naming_node_and_field(tmp_path, capsys):
    spec = json.loads((EXAMPLES / "transformer.json").read_text())
    spec["nodes"][2]["params"]["heads"] = 5  # does not divide d_model 64
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    code, out, err = run_cli(["train", str(path), *TINY_MQAR, "--steps", "1", "--quiet"], capsys)
    assert code == 2 and out == ""
    assert "layers.attn" in err and "params.heads" in err


@pytest.mark.parametrize("argv, expected", [
    (["--task", "nope"], "task: unknown task 'nope'"),
    (["--task", "mqar", "--task-param", "novalue"], "expected KEY=VALUE"),
    (["--task", "mqar", "--lr", "-1"], "config.lr"),
    (["--task", "mqar", "--task-param", "seq_len=512", "--task-param", "vocab_size=1024"], "max_seq_len"),
])
def test_train_bad_arguments_exit_2_with_the_reason(tmp_path, capsys, argv, expected):
    code, out, err = run_cli(["train", str(tiny_spec(tmp_path)), *argv, "--steps", "1", "--quiet"], capsys)
    assert code == 2 and out == "" and expected in err


@pytest.mark.parametrize("content, expected", [(None, "cannot read"), ("{oops", "not valid JSON"), ("[1]", "JSON object")])
def test_train_unreadable_spec_exits_2(tmp_path, capsys, content, expected):
    path = tmp_path / "spec.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run_cli(["train", str(path), "--task", "mqar", "--quiet"], capsys)
    assert code == 2 and "spec:" in err and expected in err


def test_train_char_lm_on_an_uploaded_corpus_file(tmp_path, capsys):
    corpus = tmp_path / "poem.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 100, encoding="utf-8")
    code, out, err = run_cli(["train", str(tiny_spec(tmp_path)), "--task", "char_lm", "--task-param", "seq_len=16",
                              "--corpus", str(corpus), "--steps", "2", "--batch-size", "2", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads(out)["task_params"]["corpus_id"] == 1
    corpus.write_bytes(b"\xff\xfe bad")
    code, _, err = run_cli(["train", str(tiny_spec(tmp_path)), "--task", "char_lm", "--corpus", str(corpus), "--quiet"],
                           capsys)
    assert code == 2 and "--corpus: corpus file is not UTF-8" in err


def test_metrics_flag_writes_json_lines_without_out_dir(tmp_path, capsys):
    metrics = tmp_path / "m" / "metrics.jsonl"
    code, out, _ = run_cli(["train", str(tiny_spec(tmp_path)), *TINY_MQAR, "--steps", "2", "--batch-size", "2",
                            "--metrics", str(metrics), "--quiet"], capsys)
    assert code == 0 and json.loads(out)["checkpoint"] is None
    assert len([json.loads(line) for line in metrics.read_text().splitlines()]) == 3  # 2 train + final eval


def test_export_json_is_the_normalised_spec(tmp_path, capsys):
    out_file = tmp_path / "spec.out.json"
    code, _, err = run_cli(["export", str(EXAMPLES / "transformer.json"), "--format", "json", "--out", str(out_file)],
                           capsys)
    assert code == 0, err
    exported = json.loads(out_file.read_text())
    assert exported["model"]["allow_noncausal"] is False  # a default filled in
    assert [n["id"] for n in exported["nodes"]][:2] == ["in", "layers"]


def test_export_invalid_spec_exits_2_naming_the_field(tmp_path, capsys):
    spec = json.loads((EXAMPLES / "transformer.json").read_text())
    spec["model"]["d_model"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    code, out, err = run_cli(["export", str(path), "--format", "json"], capsys)
    assert code == 2 and out == "" and "model.d_model" in err


@pytest.mark.parametrize("fmt, marker", [("py", b"import torch"), ("svg", b"<svg"), ("png", b"\x89PNG")])
def test_export_py_and_diagrams(tmp_path, capsys, fmt, marker):
    pytest.importorskip("blocks.export" if fmt == "py" else "blocks.diagram")
    out_file = tmp_path / f"model.{fmt}"
    code, _, err = run_cli(["export", str(EXAMPLES / "transformer.json"), "--format", fmt, "--out", str(out_file)],
                           capsys)
    if fmt == "png" and code != 0 and "graphviz" in err.lower():
        pytest.skip("graphviz's dot program is not installed here")
    assert code == 0, err
    assert marker in out_file.read_bytes()[:4096]


def _missing_block_types(spec: dict) -> list[str]:
    missing = []
    for node in spec["nodes"]:
        try:
            get_block(node["type"])
        except UnknownBlockType:
            missing.append(node["type"])
    return missing


def test_examples_index_describes_every_example_file():
    index = json.loads((EXAMPLES / "index.json").read_text())
    assert sorted(index) == EXAMPLE_FILES
    for entry in index.values():
        assert entry["title"] and entry["description"] and entry["tags"]
    assert {"transformer.json", "mamba.json", "jamba_hybrid.json", "striped_hyena.json", "retnet.json", "rwkv.json",
            "performer.json", "memory.json", "hierarchical.json", "hyena.json"} <= set(EXAMPLE_FILES)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_validates_and_trains_on_mqar_through_the_cli(name, capsys):
    from blocks.spec import validate_spec

    spec = json.loads((EXAMPLES / name).read_text())
    assert set(spec) <= {"version", "model", "nodes", "edges", "layout"}, "metadata belongs in index.json"
    assert not _missing_block_types(spec), "every example's blocks must be registered"
    result = validate_spec(spec, vocab_size=64)
    assert result.ok, [e.to_json() for e in result.errors]
    assert spec["model"]["d_model"] == 64
    code, out, err = run_cli(["train", str(EXAMPLES / name), *TINY_MQAR, "--steps", "2", "--batch-size", "2",
                              "--eval-batches", "1", "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["steps"] == 2 and summary["final_eval_loss"] > 0
