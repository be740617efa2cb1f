"""The summary of findings and the limitations, written from the stages' summaries."""

import copy

import pytest

from llmvalues.report_findings import StudySummaries, list_limitations, summarize_findings

MODELS = ["m-one", "m-two"]


def summaries(**changes) -> StudySummaries:
    """Two models with clear results: m-one differs from humans and reproduces the circle."""
    fields = {
        "models": MODELS,
        "quality": {"models": {"m-one": {"trials": 40, "counted_rate": 0.99, "expected_answers": 2280},
                               "m-two": {"trials": 40, "counted_rate": 0.75, "expected_answers": 2280}}},
        "compare": {
            "models": {
                "m-one": {"values_above_humans": ["UNC", "SDT"], "values_below_humans": ["POD"],
                          "hierarchy": {"rho": 0.812, "rho_ci": [0.6, 0.9], "bootstrap_used": 2000}},
                "m-two": {"values_above_humans": [], "values_below_humans": [],
                          "hierarchy": {"rho": 0.1, "rho_ci": [None, None], "bootstrap_used": 0}},
            },
            "between_models": {"n_models": 2, "values_differing_welch": ["UNC"]},
            "discriminant": {"fitted": True, "loo_accuracy": 0.95, "loo_accuracy_mrat_only": 0.6,
                             "permutation": {"chance_accuracy": 0.5, "p_value": 0.001}},
        },
        "reliability": {"models": {"m-one": {"alpha_raw_median": 0.71, "retest": {"ICC2": {"icc": 0.55}},
                                             "values_without_alpha": []},
                                   "m-two": {"alpha_raw_median": 0.2, "retest": {"ICC2": {"icc": 0.1}},
                                             "values_without_alpha": ["HUM"]}}},
        "structure": {"units": {
            "all_models": {"fitted": True, "stress1": 0.2, "congruence": 0.9, "n_out_of_order": 3, "n_points": 19,
                           "permutation": {"permutations": 100, "p_value": 0.2, "congruence_p_value": 0.01},
                           "dropped": []},
            "m-two": {"fitted": False, "reason": "fewer than 3 trials", "dropped": ["TR"]},
            "m-one": {"fitted": True, "stress1": 0.1, "congruence": 0.95, "n_out_of_order": 1, "n_points": 19,
                      "permutation": {"permutations": 100, "p_value": 0.01, "congruence_p_value": 0.01},
                      "dropped": []},
        }},
        "dilemmas": {"pooled": {"side": {"fitted": True, "slope": 0.5, "ci": [0.2, 0.8], "p": 0.001},
                                "permutation_p": 0.004},
                     "models": {"m-two": {"position_bias": 0.8, "position_bias_p": 0.0001},
                                "m-one": {"position_bias": 0.52, "position_bias_p": 0.6}}},
    }
    fields.update(changes)
    return StudySummaries(**fields)


def test_findings_follow_the_numbers():
    findings = summarize_findings(summaries())
    text = "\n".join(findings)
    assert "m-one 99.0% of 2280; m-two 75.0% of 2280" in text
    assert "m-one against the human means (corrected p < 0.05): higher on UNC, SDT; lower on POD" in text
    assert "Spearman's rho 0.81 [0.60, 0.90]" in text
    assert "m-two against the human means (corrected p < 0.05): no value higher; no value lower" in text
    assert "Between models, 1 value differs by Welch's ANOVA after correction (UNC)." in text
    assert "leave-one-out accuracy 0.95 (chance 0.50, permutation p = 0.001)" in text
    assert "MRAT) alone does as well" not in text
    assert "m-one median alpha 0.71, test-retest ICC2 0.55" in text
    # Structure: models in params order, then the pooled fit.
    order = [text.index("MDS of m-one"), text.index("MDS of m-two"), text.index("MDS of all models pooled")]
    assert order == sorted(order)
    assert "MDS of m-one: stress-1 0.100" in text
    assert "reproduces the circle better than permuted data" in text
    assert "MDS of m-two: not fitted (fewer than 3 trials)" in text
    assert "does not reproduce the circle" in text  # the pooled fit: stress p 0.2
    assert "rise by 0.50 [0.20, 0.80]" in text
    assert "the value profile predicts the side chosen" in text
    assert "(binomial p < 0.05): m-two 80.0%." in text
    assert "m-one 52" not in text


def test_findings_change_with_the_numbers():
    study = summaries()
    changed = copy.deepcopy(study.dilemmas)
    changed["pooled"]["permutation_p"] = 0.3
    compare = copy.deepcopy(study.compare)
    compare["discriminant"]["loo_accuracy_mrat_only"] = 0.95
    compare["between_models"]["values_differing_welch"] = []
    text = "\n".join(summarize_findings(summaries(dilemmas=changed, compare=compare)))
    assert "no evidence that the value profile predicts the side chosen" in text
    assert "the overall rating level (MRAT) alone does as well (0.95)" in text
    assert "no value differs by Welch's ANOVA after correction" in text


def limitations(study: StudySummaries, **options) -> list[str]:
    arguments = {"norms_caveats": ["Secondary source."], "instrument_original": True, "instrument_validated": False,
                 "dilemmas_validated": False, "warn_below_trials": 30, "embedded_models": []}
    arguments.update(options)
    return list_limitations(study, **arguments)


def test_limitations_name_what_the_data_showed():
    quality = {"models": {"m-one": {"trials": 10, "counted_rate": 0.99}, "m-two": {"trials": 40, "counted_rate": 0.7}}}
    text = "\n".join(limitations(summaries(quality=quality)))
    assert text.startswith("Trials of one model are repeated answers of one respondent")
    assert "Few trials: m-one (10), below 30." in text
    assert "Low share of scored answers: m-two (70.0%), below 90.0%." in text
    assert "m-two (HUM)" in text
    assert "left out of the MDS: TR." in text
    assert "Position bias in the dilemmas (m-two)" in text
    assert "caveat (listed under Human norms), such as: Secondary source." in text
    assert "have not been validated in human samples" in text
    assert "The dilemmas have not been validated" in text
    assert "told apart by their overall rating level alone" not in text


@pytest.mark.parametrize("option, sentence", [
    ({"instrument_original": False}, "have not been validated in human samples"),
    ({"dilemmas_validated": True}, "The dilemmas have not been validated"),
    ({"norms_caveats": []}, "caveat"),
])
def test_inapplicable_limitations_left_out(option, sentence):
    assert sentence in "\n".join(limitations(summaries()))
    assert sentence not in "\n".join(limitations(summaries(), **option))


def test_no_few_trials_limitation():
    text = "\n".join(limitations(summaries(), warn_below_trials=20))
    assert "Few trials" not in text
    assert "Low share" in text  # m-two still answered 75%
