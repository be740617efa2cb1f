"""Time collection on the embedded llama.cpp models against a bare llama.cpp loop.

Run from the project folder:

    .venv/bin/python benchmarks/local_collection.py --json build/benchmarks/local.json

For each llama_cpp model of params.yaml and each answer mode (text with the digit
distribution, and logprobs), the script builds the first ``--items`` item-mode
requests with the package's own Collector, so the prompts are the real ones. It
then times three ways of answering them in this process:

- ``provider``: the package's LlamaCppProvider, which evaluates each request's
  own tokens from the saved state of the shared prefix;
- ``whole_prompt``: the same provider with ``reuse_prefix=False``, which evaluates
  every prompt from an empty context (the behaviour before prefix reuse);
- ``bare``: a loop over the same token lists on a Llama object of its own that
  does the least work for the same output. It evaluates the shared prefix once.
  Per request it drops the KV cache back to the prefix and evaluates the rest.
  In text mode it then samples up to ``max_tokens`` with the same grammar and
  seed (llama-cpp-python's ``generate``). In logprobs mode it reads the six digit logits.

The bare loop is the limit on this machine: the ratio provider / bare says how far
the package is from it. The three ways take turns over all items (each after one
warm-up request), ``--repeats`` times, and each way's median run counts.

Last, it times a whole collection of the default study the way `dvc repro` runs
it: in a copy of the project with the models' stores and views removed, it runs
``python stages/collect.py <model>`` for every llama_cpp model (all trials, the
portrait items and the dilemmas), with each run's wall time and peak resident
memory. It then compares every record of the new views with the committed view
of the same cell (trial, item or dilemma, attempt): a fresh collection must
reproduce the committed answers. ``--study-baseline`` repeats the study with
``reuse_prefix: false`` for every model (whole prompts, the behaviour before
prefix reuse).

Prints one JSON line per measurement. Nothing leaves this machine: the weights
come from installed packages (see llmvalues/weights.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import llama_cpp
import numpy as np
from llama_cpp import LlamaGrammar
from ruamel.yaml import YAML

from common import PROJECT, checked, copy_project, run_child, venv_environment, write_results
from llmvalues.collect import Collector, Store, select_dilemma_battery, select_template, settings_from_params
from llmvalues.instrument import select_instrument
from llmvalues.params import load_params
from llmvalues.providers import LLAMA_CPP_DEFAULTS
from llmvalues.providers.llama_cpp import DIGIT_GRAMMAR, LlamaCppProvider, common_prefix_length
from llmvalues.weights import MODELS_DIR, locate_weights

ANSWER_MODES = ("text", "logprobs")


def parse_args() -> argparse.Namespace:
    """Parse the command line, and exit with a usage message on an invalid value."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 8 items per model and mode, one run each, and no whole-study run")
    parser.add_argument("--items", type=int, default=57, help="items timed per model and mode (default: 57, all)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each way over the items; the median run counts (default: 3)")
    parser.add_argument("--study-baseline", action="store_true",
                        help="also time the whole study with reuse_prefix: false (the behaviour before prefix reuse)")
    parser.add_argument("--skip-study", action="store_true", help="leave out the whole-study run")
    parser.add_argument("--skip-items", action="store_true", help="leave out the timing of single items")
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.items = min(args.items, 8)
        args.repeats = 1
        args.skip_study = True
    for name in ("items", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=False), flush=True)


def local_models(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {slug: entry for slug, entry in params["models"].items() if entry["provider"] == "llama_cpp"}


def engine_of(entry: dict[str, Any]) -> dict[str, int]:
    """Return the model entry's llama.cpp settings, reuse_prefix left out (each timed way sets its own)."""
    return {name: entry.get(name, default) for name, default in LLAMA_CPP_DEFAULTS.items() if name != "reuse_prefix"}


def weights_of(slug: str, entry: dict[str, Any]) -> Path:
    return locate_weights(entry["model"], entry.get("model_path"), source="params.yaml", field=f"models.{slug}",
                          models_dir=MODELS_DIR)


def build_collector(params: dict[str, Any], slug: str, store: Path, provider_factory, *, answer_mode: str | None = None,
                    trials: int | None = None, dilemmas: bool = True) -> Collector:
    """Build the Collector that stages/collect.py would build, with some collect settings replaced."""
    params = {**params, "collect": dict(params["collect"])}
    if answer_mode is not None:
        params["collect"]["answer_mode"] = answer_mode
    if trials is not None:
        params["collect"]["trials"] = trials
    instrument = select_instrument(params["instrument"], "params.yaml")
    template = select_template(params, slug)
    battery = select_dilemma_battery(params, slug) if dilemmas else None
    entry = params["models"][slug]
    settings = settings_from_params(slug, entry, params["collect"], params["instrument"]["form"], params.get("prices"))
    return Collector(settings, instrument, template, Store(store), provider_factory, battery)


def time_provider(provider: LlamaCppProvider, requests: list) -> dict[str, Any]:
    provider.complete(requests[0])  # warm-up: the first decode allocates buffers
    evaluated = 0
    started = time.perf_counter()
    for request in requests:
        response = provider.complete(request)
        if response.error is not None:
            raise RuntimeError(f"the provider returned an error: {response.error}")
        evaluated += provider.last_evaluated_tokens
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "evaluated_tokens": evaluated}


def time_bare(llm, token_lists: list[list[int]], requests: list, answer_mode: str, digit_ids: list[int]) -> dict[str, Any]:
    """Answer the token lists with the least work: the shared prefix once, then each list's rest."""
    prefix_length = min(common_prefix_length(token_lists[0], tokens) for tokens in token_lists)
    prefix_length = min(prefix_length, min(len(tokens) for tokens in token_lists) - 1)
    grammar = LlamaGrammar.from_string(DIGIT_GRAMMAR, verbose=False)
    memory = llama_cpp.llama_get_memory(llm.ctx)
    llm.reset()
    llm.eval(token_lists[0][:prefix_length])
    evaluated = prefix_length

    def answer(tokens: list[int], request) -> None:
        if not llama_cpp.llama_memory_seq_rm(memory, -1, prefix_length, -1):
            raise RuntimeError("this model cannot drop KV-cache cells; the bare loop needs it")
        llm.n_tokens = prefix_length
        llm.eval(tokens[prefix_length:])
        if answer_mode == "logprobs":
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),))
            logits[digit_ids].copy()
            return
        llm.set_seed(request.seed)
        generated = 0
        for token in llm.generate(tokens, top_k=0, top_p=request.top_p, min_p=0.0, temp=request.temperature,
                                  repeat_penalty=1.0, grammar=grammar):
            generated += 1
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or generated >= request.max_tokens:
                break

    answer(token_lists[0], requests[0])  # warm-up, as for the provider
    started = time.perf_counter()
    for tokens, request in zip(token_lists, requests):
        answer(tokens, request)
        evaluated += len(tokens) - prefix_length
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "evaluated_tokens": evaluated, "prefix_tokens": prefix_length}


def compare_items(params: dict[str, Any], args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    """Time the three ways of answering the first ``args.items`` items of each model and answer mode."""
    comparisons = []
    for slug, entry in local_models(params).items():
        path = weights_of(slug, entry)
        engine = engine_of(entry)
        with_reuse = LlamaCppProvider(path, model_id=entry["model"], **engine, reuse_prefix=True)
        whole_prompt = LlamaCppProvider(path, model_id=entry["model"], **engine, reuse_prefix=False)
        bare = LlamaCppProvider(path, model_id=entry["model"], **engine)  # only its Llama object is used
        for answer_mode in ANSWER_MODES:
            collector = build_collector(params, slug, folder / f"{slug}-{answer_mode}.jsonl", lambda: None,
                                        answer_mode=answer_mode, trials=1, dilemmas=False)
            requests = [cell.prepare(0, None).request for cell in collector.cells()][:args.items]
            token_lists = [with_reuse._tokens(request.content) for request in requests]
            # The three ways take turns, so a burst of other work on the machine slows all of
            # them alike; each way's median run counts.
            runs: dict[str, list[dict[str, Any]]] = {"provider": [], "whole_prompt": [], "bare": []}
            for _ in range(args.repeats):
                runs["provider"].append(time_provider(with_reuse, requests))
                runs["whole_prompt"].append(time_provider(whole_prompt, requests))
                runs["bare"].append(time_bare(bare.llm, token_lists, requests, answer_mode, bare._digit_ids))
            timings = {way: sorted(timed, key=lambda run: run["seconds"])[(len(timed) - 1) // 2]
                       for way, timed in runs.items()}
            for way, timing in timings.items():
                emit({"measurement": "items", "model": slug, "answer_mode": answer_mode, "mode": "item", "way": way,
                      "items": len(requests), "seconds": round(timing["seconds"], 3),
                      "seconds_per_item": round(timing["seconds"] / len(requests), 4),
                      "evaluated_tokens_per_item": round(timing["evaluated_tokens"] / len(requests), 1),
                      "prompt_tokens_per_item": round(sum(map(len, token_lists)) / len(requests), 1)})
            bare_seconds = timings["bare"]["seconds"]
            emit({"measurement": "ratio", "model": slug, "answer_mode": answer_mode,
                  "provider_over_bare": round(timings["provider"]["seconds"] / bare_seconds, 3),
                  "whole_prompt_over_bare": round(timings["whole_prompt"]["seconds"] / bare_seconds, 3),
                  "target": 1.5})
            per_item = {way: timing["seconds"] / len(requests) for way, timing in timings.items()}
            comparisons.append({
                "model": slug, "answer_mode": answer_mode, "items": len(requests),
                "provider_seconds_per_item": round(per_item["provider"], 4),
                "whole_prompt_seconds_per_item": round(per_item["whole_prompt"], 4),
                "bare_seconds_per_item": round(per_item["bare"], 4),
                "ratio": round(per_item["provider"] / per_item["bare"], 3),
                "whole_prompt_ratio": round(per_item["whole_prompt"] / per_item["bare"], 3),
                "tokens_per_item": round(timings["provider"]["evaluated_tokens"] / len(requests), 1),
                "prompt_tokens_per_item": round(sum(map(len, token_lists)) / len(requests), 1)})
        del with_reuse, whole_prompt, bare
    return comparisons


def cell_of(record: dict[str, Any]) -> tuple:
    """Return what identifies a record's cell apart from its key: battery, trial, item or dilemma, attempt."""
    return (record["battery"], record["trial"], record.get("item"), record.get("dilemma"), record["attempt"])


def read_view(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def differences(view: list[dict[str, Any]], committed: list[dict[str, Any]]) -> dict[str, Any]:
    """Count the cells whose reply or digit distribution differs between a new view and the committed one."""
    by_cell = {cell_of(record): record for record in committed}
    missing = replies = distributions = 0
    max_probability_difference = 0.0
    for record in view:
        other = by_cell.get(cell_of(record))
        if other is None:
            missing += 1
            continue
        replies += record["reply"] != other["reply"]
        if record["distribution"] != other["distribution"]:
            distributions += 1
            if record["distribution"] and other["distribution"]:
                for digit, probability in record["distribution"]["probabilities"].items():
                    gap = abs(probability - other["distribution"]["probabilities"][digit])
                    max_probability_difference = max(max_probability_difference, gap)
    return {"records": len(view), "committed": len(committed), "not_in_committed": missing,
            "replies_differ": replies, "distributions_differ": distributions,
            "max_probability_difference": max_probability_difference}


def time_study(params: dict[str, Any], folder: Path, reuse_prefix: bool) -> dict[str, Any]:
    """Collect the default study from empty stores in a copy of the project, one collect stage per model."""
    copy = copy_project(folder / f"study-{'reuse' if reuse_prefix else 'whole'}")
    env = venv_environment(copy)
    slugs = list(local_models(params))
    if not reuse_prefix:
        document = YAML()
        changed = document.load((copy / "params.yaml").read_text(encoding="utf-8"))
        for slug in slugs:
            changed["models"][slug]["reuse_prefix"] = False
        with (copy / "params.yaml").open("w", encoding="utf-8") as stream:
            document.dump(changed, stream)
    for slug in slugs:
        (copy / "data" / "store" / f"{slug}.jsonl").unlink(missing_ok=True)
        (copy / "data" / "raw" / f"{slug}.jsonl").unlink(missing_ok=True)
    runs = []
    for slug in slugs:
        run = checked(run_child([sys.executable, "stages/collect.py", slug], copy, env))
        view = read_view(copy / "data" / "raw" / f"{slug}.jsonl")
        runs.append({"model": slug, "records": len(view), "seconds": round(run.seconds, 1),
                     "cpu_seconds": round(run.cpu_seconds, 1), "peak_rss_mib": round(run.peak_rss_mib, 1),
                     "compared_with_committed": differences(view, read_view(PROJECT / "data" / "raw" / f"{slug}.jsonl"))})
        emit({"measurement": "study_model", "reuse_prefix": reuse_prefix, **runs[-1]})
    study = {"reuse_prefix": reuse_prefix, "records": sum(run["records"] for run in runs),
             "seconds": round(sum(run["seconds"] for run in runs), 1), "stages": runs}
    emit({"measurement": "study", **{key: value for key, value in study.items() if key != "stages"}})
    return study


def main() -> None:
    args = parse_args()
    params = load_params(args.params)
    emit({"measurement": "machine", "cpus": os.cpu_count(), "machine": platform.machine(),
          "python": platform.python_version(), "llama_cpp_python": llama_cpp.__version__,
          "quick": args.quick, "items": args.items})
    results: dict[str, Any] = {"llama_cpp_python": llama_cpp.__version__}
    with tempfile.TemporaryDirectory(prefix="llmvalues-bench-local-") as folder:
        # The study runs first, while this process holds no model.
        if not args.skip_study:
            results["full_study"] = time_study(params, Path(folder), reuse_prefix=True)
            if args.study_baseline:
                results["baseline_study"] = time_study(params, Path(folder), reuse_prefix=False)
        if not args.skip_items:
            results["comparisons"] = compare_items(params, args, Path(folder))
    if args.json:
        name = "study" if "comparisons" not in results else "local"
        write_results(args.json, name, "benchmarks/local_collection.py", results)


if __name__ == "__main__":
    run_stage(main)
