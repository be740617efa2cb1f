"""The report's summary of findings and its limitations, both written from the numbers.

``summarize_findings`` turns the stages' summaries into one sentence per
analysis; ``list_limitations`` states what the data showed that limits them (too
few trials, low parse rates, values without variance, secondary norms ...).
Neither holds a fixed verdict: each sentence follows from a number and a
threshold named in it, so a reader can check it against the tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .report_format import format_number, format_p, format_percent

SIGNIFICANCE = 0.05
LOW_COUNTED_RATE = 0.9
FEW_TRIALS = 30


@dataclass(frozen=True)
class StudySummaries:
    """The summaries of the stages, as the report reads them.

    ``quality`` is reports/metrics/quality.json; ``compare``, ``reliability``,
    ``structure`` and ``dilemmas`` are the stages' summaries
    (reports/tables/<stage>/summary.json). ``models`` is the params.yaml order.
    """

    models: list[str]
    quality: dict[str, Any]
    compare: dict[str, Any]
    reliability: dict[str, Any]
    structure: dict[str, Any]
    dilemmas: dict[str, Any]


def summarize_findings(study: StudySummaries) -> list[str]:
    """Return the summary of findings: one sentence (or two) per analysis."""
    findings = [_quality_finding(study)]
    findings += [_norms_finding(model, study.compare["models"].get(model)) for model in study.models
                 if study.compare["models"].get(model)]
    findings.append(_between_finding(study.compare))
    findings.append(_reliability_finding(study))
    findings += _structure_findings(study.structure, study.models)
    findings.append(_dilemma_finding(study.dilemmas, study.models))
    return [finding for finding in findings if finding]


def _quality_finding(study: StudySummaries) -> str:
    parts = []
    for model in study.models:
        entry = study.quality["models"].get(model) or {}
        parts.append(f"{model} {format_percent(entry.get('counted_rate'))} of {entry.get('expected_answers', 'n/a')}")
    return "Answers scored (valid or hedged ratings, of those expected): " + "; ".join(parts) + "."


def _norms_finding(model: str, entry: dict[str, Any]) -> str:
    above = ", ".join(entry.get("values_above_humans") or [])
    below = ", ".join(entry.get("values_below_humans") or [])
    hierarchy = entry.get("hierarchy") or {}
    interval = hierarchy.get("rho_ci") or [math.nan, math.nan]
    text = (f"{model} against the human means (corrected p < {SIGNIFICANCE:g}): "
            + (f"higher on {above}" if above else "no value higher")
            + "; " + (f"lower on {below}" if below else "no value lower")
            + f". Order of the 19 values against the human order: Spearman's rho {format_number(hierarchy.get('rho'))}")
    if hierarchy.get("bootstrap_used"):
        text += f" [{format_number(interval[0])}, {format_number(interval[1])}]"
    return text + "."


def _between_finding(compare: dict[str, Any]) -> str:
    between = compare.get("between_models") or {}
    if between.get("n_models", 0) < 2:
        return "One model only: no comparison between models."
    welch = between.get("values_differing_welch") or []
    if welch:
        differ = f"{len(welch)} value{' differs' if len(welch) == 1 else 's differ'}"
        text = f"Between models, {differ} by Welch's ANOVA after correction ({', '.join(welch)})."
    else:
        text = "Between models, no value differs by Welch's ANOVA after correction."
    lda = compare.get("discriminant") or {}
    if lda.get("fitted"):
        permutation = lda.get("permutation") or {}
        text += f" The discriminant analysis tells the models apart with leave-one-out accuracy {format_number(lda['loo_accuracy'])}"
        if permutation:
            text += (f" (chance {format_number(permutation['chance_accuracy'])}, permutation p "
                     f"{_p_words(permutation['p_value'])})")
        mrat = lda.get("loo_accuracy_mrat_only")
        if mrat is not None and mrat >= lda["loo_accuracy"]:
            text += (f"; the overall rating level (MRAT) alone does as well ({format_number(mrat)}), so the models "
                     "differ in how high they rate at least as much as in what they value")
        text += "."
    return text


def _reliability_finding(study: StudySummaries) -> str:
    parts = []
    for model in study.models:
        entry = study.reliability["models"].get(model) or {}
        icc = ((entry.get("retest") or {}).get("ICC2") or {})
        parts.append(f"{model} median alpha {format_number(entry.get('alpha_raw_median'))}, "
                     f"test-retest ICC2 {format_number(icc.get('icc'))}")
    return ("Reliability over trials (Cronbach's alpha of each value's items, median over the values with an alpha; "
            "agreement "
            "of the 57 ratings between trials): " + "; ".join(parts) + ".")


def _structure_findings(structure: dict[str, Any], models: list[str]) -> list[str]:
    findings = []
    units = structure.get("units", {})
    for unit in [model for model in models if model in units] + [unit for unit in units if unit not in models]:
        result = units[unit]
        name = "all models pooled" if unit == "all_models" else unit
        if not result.get("fitted"):
            findings.append(f"MDS of {name}: not fitted ({result.get('reason', 'no data')}).")
            continue
        permutation = result.get("permutation") or {}
        text = (f"MDS of {name}: stress-1 {format_number(result['stress1'], 3)}, congruence with the theoretical "
                f"circle {format_number(result['congruence'], 3)}, {result['n_out_of_order']} of "
                f"{result['n_points']} values out of order")
        if permutation.get("permutations"):
            stress_p, congruence_p = permutation.get("p_value"), permutation.get("congruence_p_value")
            text += f" (permutation p {_p_words(stress_p)} for stress, {_p_words(congruence_p)} for congruence)"
            better = _below(stress_p) and _below(congruence_p)
            text += (": the map reproduces the circle better than permuted data" if better
                     else ": the map does not reproduce the circle better than permuted data")
        findings.append(text + ".")
    return findings


def _dilemma_finding(dilemmas: dict[str, Any], models: list[str]) -> str:
    pooled = dilemmas.get("pooled") or {}
    side = pooled.get("side") or {}
    if not side.get("fitted"):
        return "Dilemmas: the side regression could not be fitted."
    interval = side.get("ci") or [math.nan, math.nan]
    text = (f"Dilemmas: the log-odds of choosing option A rise by {format_number(side['slope'])} "
            f"[{format_number(interval[0])}, {format_number(interval[1])}] per point of value difference "
            f"(clustered p {_p_words(side['p'])}")
    if pooled.get("permutation_p") is not None:
        text += f", permutation p {_p_words(pooled['permutation_p'])}"
    text += "): " + ("the value profile predicts the side chosen" if _below(side["p"]) and
                     _below(pooled.get("permutation_p", side["p"]))
                     else "no evidence that the value profile predicts the side chosen") + "."
    entries = dilemmas.get("models") or {}
    biased = [f"{model} {format_percent(entries[model]['position_bias'])}" for model in models
              if entries.get(model, {}).get("position_bias") is not None
              and _below(entries[model].get("position_bias_p"))]
    if biased:
        text += f" The option shown first was chosen more often than half the time (binomial p < {SIGNIFICANCE:g}): {', '.join(biased)}."
    return text


def list_limitations(study: StudySummaries, *, norms_caveats: list[str], instrument_original: bool,
                     instrument_validated: bool, dilemmas_validated: bool, warn_below_trials: int = FEW_TRIALS,
                     embedded_models: list[str] | None = None) -> list[str]:
    """Return the limitations the data showed, most general first."""
    limitations = [
        "Trials of one model are repeated answers of one respondent under sampling, not different people: "
        "intervals and p values describe how stable a model's answers are, and they shrink with more trials "
        "whatever the size of a difference."
    ]
    trials = {model: (study.quality["models"].get(model) or {}).get("trials") for model in study.models}
    few = [f"{model} ({count})" for model, count in trials.items() if isinstance(count, int) and count < warn_below_trials]
    if few:
        limitations.append(f"Few trials: {', '.join(few)}, below {warn_below_trials}. Correlations over trials "
                           "(MDS, alpha, omega) are unstable and intervals are wide.")
    low = [f"{model} ({format_percent(entry.get('counted_rate'))})"
           for model in study.models
           if (entry := study.quality["models"].get(model) or {}).get("counted_rate") is not None
           and entry["counted_rate"] < LOW_COUNTED_RATE]
    if low:
        limitations.append(f"Low share of scored answers: {', '.join(low)}, below {format_percent(LOW_COUNTED_RATE)}. "
                           "Missing answers are not random: a model that refuses some items is scored on the rest.")
    no_variance = []
    for model in study.models:
        values = (study.reliability["models"].get(model) or {}).get("values_without_alpha") or []
        if values:
            no_variance.append(f"{model} ({', '.join(values)})")
    if no_variance:
        limitations.append("Values without an alpha, because their items hardly varied across trials: "
                           f"{'; '.join(no_variance)}.")
    dropped = sorted({value for result in study.structure.get("units", {}).values()
                      for value in result.get("dropped") or []})
    if dropped:
        limitations.append(f"Values without variance left out of the MDS: {', '.join(dropped)}.")
    entries = study.dilemmas.get("models") or {}
    biased = [model for model in study.models if entries.get(model, {}).get("position_bias") is not None
              and _below(entries[model].get("position_bias_p"))]
    if biased:
        limitations.append(f"Position bias in the dilemmas ({', '.join(biased)}): the option shown first is chosen "
                           "more often, so read the position-adjusted regression.")
    lda = study.compare.get("discriminant") or {}
    if lda.get("fitted") and lda.get("loo_accuracy_mrat_only") is not None \
            and lda["loo_accuracy_mrat_only"] >= lda["loo_accuracy"]:
        limitations.append("The models are told apart by their overall rating level alone: the discriminant "
                           "analysis of raw scores says more about scale use than about values.")
    if norms_caveats:
        limitations.append(f"The human norms come with {len(norms_caveats)} caveat"
                           f"{'' if len(norms_caveats) == 1 else 's'} (listed under Human norms), such as: "
                           f"{norms_caveats[0]}")
    if instrument_original and not instrument_validated:
        limitations.append("The items were written for this project and have not been validated in human samples: "
                           "their scores are not the PVQ-RR's, and the human norms were measured with the PVQ-RR.")
    if not dilemmas_validated:
        limitations.append("The dilemmas have not been validated: whose value each option serves is the authors' "
                           "judgement.")
    if embedded_models:
        limitations.append(f"{', '.join(embedded_models)} are tiny models chosen to run anywhere; their answers "
                           "show how the pipeline works, not the values of capable models.")
    return limitations


def _below(p_value: Any) -> bool:
    return p_value is not None and isinstance(p_value, (int, float)) and not math.isnan(p_value) \
        and p_value < SIGNIFICANCE


def _p_words(p_value: Any) -> str:
    text = format_p(p_value)
    return text if text.startswith("<") else f"= {text}"
