from pathlib import Path

import pytest

from llmvalues.errors import InputError
from llmvalues.params import load_params

SHIPPED = Path(__file__).resolve().parent.parent / "params.yaml"


def with_change(tmp_path, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text, f"the shipped params.yaml no longer contains {old!r}"
    path = tmp_path / "params.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_shipped_params_are_valid():
    params = load_params(SHIPPED)
    assert params["score"]["min_valid_items_per_value"] == 2
    assert params["instrument"]["form"] == "neutral"
    assert list(params["models"]) == ["smollm2-135m", "gemma3-270m"]


def test_exponent_without_dot_is_float(tmp_path):
    path = with_change(tmp_path, "min_digit_mass: 0.0", "min_digit_mass: 1e-3")
    assert load_params(path)["clean"]["min_digit_mass"] == 0.001


def test_integer_for_float_key(tmp_path):
    path = with_change(tmp_path, "min_digit_mass: 0.0", "min_digit_mass: 0")
    value = load_params(path)["clean"]["min_digit_mass"]
    assert value == 0.0 and isinstance(value, float)


BAD_PARAMS = [
    ("quoted integer", "min_valid_items_for_mrat: 46", "min_valid_items_for_mrat: '10'",
     "score.min_valid_items_for_mrat: must be an integer, got the text '10'; write 10 without quotes"),
    ("fraction for an integer", "min_valid_items_per_value: 2", "min_valid_items_per_value: 2.5",
     "score.min_valid_items_per_value: must be an integer, got 2.5"),
    ("integer out of range", "min_valid_items_per_value: 2", "min_valid_items_per_value: 4",
     "score.min_valid_items_per_value: must be an integer from 1 to 3, got 4"),
    ("quoted float", "min_digit_mass: 0.0", "min_digit_mass: '1e-3'",
     "clean.min_digit_mass: must be a number, got the text '1e-3'"),
    ("flag for a number", "min_digit_mass: 0.0", "min_digit_mass: true",
     "clean.min_digit_mass: must be a number, got True"),
    ("typo in a key", "min_valid_items_per_value: 2", "min_valid_item_per_value: 2",
     "score.min_valid_item_per_value: unknown key; did you mean 'score.min_valid_items_per_value'?"),
    ("unknown section", "score:", "scoring:", "scoring: unknown key; did you mean 'score'?"),
    ("bad choice", "rating_source: reply", "rating_source: sampled",
     "clean.rating_source: invalid value 'sampled'; use one of reply, distribution"),
    ("model key with a dot", "  gemma3-270m:", "  gemma3.270m:", "models.gemma3.270m: invalid model key"),
    ("model key with a slash", "  gemma3-270m:", "  google/gemma:", "models.google/gemma: invalid model key"),
    ("model key starting with a digit", "  gemma3-270m:", "  3gemma:", "models.3gemma: invalid model key"),
    ("model key read as a number", "  gemma3-270m:", "  123:", "models.123: invalid model key"),
    ("context too small", "    n_ctx: 4096\n    n_batch: 512                   # part", "    n_ctx: 128\n    n_batch: 512                   # part",
     "models.smollm2-135m.n_ctx: must be an integer from 256 to"),
    ("zero trials", "trials: 10", "trials: 0", "collect.trials: must be an integer of at least 1, got 0"),
    ("flag as text", "distribution: true", "distribution: 'yes'",
     "collect.distribution: must be true or false, got the text 'yes'"),
    ("unknown provider", "provider: llama_cpp", "provider: llamacpp", "models.smollm2-135m.provider: invalid value"),
    ("bad key variable", "    model: gemma-3-270m", "    model: gemma-3-270m\n    api_key_env: my key",
     "models.gemma3-270m.api_key_env: invalid value 'my key'"),
    ("missing key", "  form: neutral            # neutral, male or female item texts\n", "",
     "instrument.form: missing key"),
    ("key given twice", "  form: neutral", "  form: neutral\n  form: male", "invalid YAML"),
    ("bad dilemma predictor", "predictor: trial ", "predictor: mean ",
     "dilemmas.predictor: invalid value 'mean'; use one of trial, profile"),
    ("dilemma confidence above 1", "confidence: 0.95            # level of the intervals of the slopes",
     "confidence: 1.5            # level of the intervals of the slopes",
     "dilemmas.confidence: must be a number from 0.5 to 0.999, got 1.5"),
    ("negative dilemma permutations", "permutations: 1000          # permutation test of the slope",
     "permutations: -1          # permutation test of the slope",
     "dilemmas.permutations: must be an integer from 0 to 100000, got -1"),
]


@pytest.mark.parametrize("old, new, expected", [case[1:] for case in BAD_PARAMS], ids=[case[0] for case in BAD_PARAMS])
def test_bad_params_one_line_error(tmp_path, old, new, expected):
    path = with_change(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        load_params(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_empty_models_mapping(tmp_path):
    path = tmp_path / "params.yaml"
    text = SHIPPED.read_text(encoding="utf-8")
    start = text.index("models:")
    end = text.index("instrument:")
    path.write_text(text[:start] + "models: {}\n\n" + text[end:], encoding="utf-8")
    with pytest.raises(InputError, match="models: must map at least one model slug"):
        load_params(path)


def test_missing_params_file(tmp_path):
    with pytest.raises(InputError, match="params file not found"):
        load_params(tmp_path / "params.yaml")


def test_mds_choices_match_engine():
    from llmvalues import smacof, structure
    from llmvalues.params import MDS_DISSIMILARITIES, MDS_INITS, MDS_TIES, MDS_TYPES

    assert sorted(MDS_TYPES) == sorted(smacof.KINDS)
    assert sorted(MDS_TIES) == sorted(smacof.TIES)
    assert sorted(MDS_DISSIMILARITIES) == sorted(structure.DISSIMILARITIES)
    assert sorted(MDS_INITS) == sorted(structure.INITS)


def test_dilemma_predictors_match_engine():
    from llmvalues.dilemma_study import PREDICTORS
    from llmvalues.params import DILEMMA_PREDICTORS

    assert DILEMMA_PREDICTORS == PREDICTORS
