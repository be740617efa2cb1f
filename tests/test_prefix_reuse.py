"""Prefix reuse in the llama.cpp provider, with the real embedded SmolLM2-135M-Instruct model.

Each request evaluates only its own tokens from the saved state of its template's
shared prefix. These tests check that this never changes a reply or a digit
distribution: not with the order of the requests, not after a request with another
prefix, and not against a fresh provider.
"""

import dataclasses

import pytest

from llmvalues.collect import Collector, DilemmaBattery, Store
from llmvalues.dilemmas import load_dilemma_set
from llmvalues.instrument import resolve_instrument
from llmvalues.prompts import resolve_template
from llmvalues.providers import create_provider
from llmvalues.providers.llama_cpp import LlamaCppProvider
from llmvalues.weights import MODELS_DIR, locate_weights

from test_collect import SMOLLM2, settings

ITEMS = (1, 2, 6, 23, 40)


def instrument_of(items=ITEMS):
    instrument = resolve_instrument("llmvalues-portraits-v1")
    return dataclasses.replace(instrument, items={item: instrument.items[item] for item in items})


def requests_of(tmp_path, project_root, template="portrait-chat-v1", dilemma_template="dilemma-chat-v1", **changes):
    """Return the first-attempt requests the Collector builds: the items, then two dilemmas."""
    dilemma_set = load_dilemma_set(project_root / "data" / "dilemmas" / "mental-health-v1.yaml")
    dilemma_set = dataclasses.replace(dilemma_set, dilemmas=dilemma_set.dilemmas[:2])
    battery = DilemmaBattery(dilemma_set, resolve_template(dilemma_template))
    collector = Collector(settings(trials=1, **changes), instrument_of(), resolve_template(template),
                          Store(tmp_path / "unused.jsonl"), lambda: None, battery)
    requests = [cell.prepare(0, None).request for cell in collector.cells()]
    return requests[:len(ITEMS)], requests[len(ITEMS):]


def answer(provider, request):
    response = provider.complete(request)
    assert response.error is None
    return response.reply, response.distribution


@pytest.fixture(scope="module")
def provider():
    return create_provider("smol", SMOLLM2)


@pytest.fixture(scope="module")
def whole_prompt_provider():
    """The provider that evaluates every prompt in one call from an empty context."""
    path = locate_weights(SMOLLM2["model"], None, source="test", field="model", models_dir=MODELS_DIR)
    return LlamaCppProvider(path, model_id=SMOLLM2["model"], n_ctx=SMOLLM2["n_ctx"], n_batch=SMOLLM2["n_batch"],
                            n_threads=SMOLLM2["n_threads"], reuse_prefix=False)


@pytest.mark.parametrize("template", ["portrait-chat-v1", "portrait-completion-v1"])
def test_answers_do_not_depend_on_order(tmp_path, project_root, provider, template):
    items, dilemmas = requests_of(tmp_path, project_root, template=template)
    in_order = [answer(provider, request) for request in items]
    backwards = [answer(provider, request) for request in reversed(items)][::-1]
    assert backwards == in_order
    after_dilemma = []
    for request in items:
        answer(provider, dilemmas[0])
        after_dilemma.append(answer(provider, request))
    assert after_dilemma == in_order


@pytest.mark.parametrize("template", ["portrait-chat-v1", "portrait-completion-v1"])
def test_answers_match_a_fresh_provider(tmp_path, project_root, provider, template):
    items, _ = requests_of(tmp_path, project_root, template=template)
    for request in items:
        answer(provider, request)  # leaves the prefix of the last item in the cache
    for request in items:
        fresh = create_provider("smol", SMOLLM2)
        assert answer(provider, request) == answer(fresh, request)


def test_only_own_tokens_are_evaluated(tmp_path, project_root, provider):
    items, _ = requests_of(tmp_path, project_root)
    whole = len(provider._tokens(items[0].content))
    answer(provider, items[0])
    evaluations = provider.prefix_evaluations
    for request in items[1:]:
        answer(provider, request)
        assert provider.last_evaluated_tokens < len(provider._tokens(request.content))
    assert provider.prefix_evaluations == evaluations
    assert provider.last_evaluated_tokens < whole


def test_other_prefix_is_evaluated_from_empty_context(tmp_path, project_root, provider):
    items, dilemmas = requests_of(tmp_path, project_root)
    answer(provider, items[0])
    evaluations = provider.prefix_evaluations
    answer(provider, dilemmas[0])
    assert provider.prefix_evaluations == evaluations + 1
    assert provider.last_evaluated_tokens == len(provider._tokens(dilemmas[0].content))
    answer(provider, items[1])
    assert provider.prefix_evaluations == evaluations + 2


def test_dilemma_answers_do_not_depend_on_order(tmp_path, project_root, provider):
    items, dilemmas = requests_of(tmp_path, project_root)
    first = [answer(provider, request) for request in dilemmas]
    answer(provider, items[0])
    second = [answer(provider, request) for request in reversed(dilemmas)][::-1]
    assert second == first


def test_request_without_prefix(tmp_path, project_root, provider, whole_prompt_provider):
    items, _ = requests_of(tmp_path, project_root)
    bare = dataclasses.replace(items[0], prefix=None)
    assert answer(provider, bare) == answer(whole_prompt_provider, bare)
    assert provider.last_evaluated_tokens == len(provider._tokens(bare.content))


def test_wrong_prefix_cannot_change_the_answer(tmp_path, project_root, provider):
    items, _ = requests_of(tmp_path, project_root)
    request = items[2]
    expected = answer(provider, request)
    # A prefix hint that the prompt does not start with: only the tokens both share are reused.
    wrong = dataclasses.replace(request, prefix=[{"role": "system", "content": "Something else entirely."}])
    answer(provider, wrong)
    assert answer(provider, request) == expected


def test_whole_prompt_provider_evaluates_everything(tmp_path, project_root, whole_prompt_provider):
    items, _ = requests_of(tmp_path, project_root)
    for request in items[:2]:
        answer(whole_prompt_provider, request)
        assert whole_prompt_provider.last_evaluated_tokens == len(whole_prompt_provider._tokens(request.content))
    assert whole_prompt_provider.prefix_evaluations == 0


def test_logprobs_answers_do_not_depend_on_order(tmp_path, project_root, provider):
    items, _ = requests_of(tmp_path, project_root, answer_mode="logprobs")
    in_order = [answer(provider, request)[1] for request in items]
    backwards = [answer(provider, request)[1] for request in reversed(items)][::-1]
    assert backwards == in_order


def test_block_request_after_items(tmp_path, project_root, provider):
    collector = Collector(settings(trials=1, mode="block", max_tokens=40), instrument_of(),
                          resolve_template("portrait-block-chat-v1"), Store(tmp_path / "block.jsonl"), lambda: None)
    (block,) = [cell.prepare(0, None).request for cell in collector.cells()]
    fresh = create_provider("smol", SMOLLM2)
    expected = answer(fresh, block)
    items, _ = requests_of(tmp_path, project_root)
    answer(provider, items[0])
    assert answer(provider, block) == expected
