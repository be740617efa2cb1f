"""The ``llmvalues`` command: apply the engine to one's own files.

Each subcommand prints JSON (or writes a CSV) with documented keys so that
scripts can rely on them. Errors go to standard error, one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .collect import select_dilemma_battery, select_template
from .errors import InputError
from .instrument import DEFAULT_INSTRUMENT_ID, resolve_instrument, select_instrument
from .outputs import atomic_write_text, csv_text
from .params import load_params
from .parsing import parse_reply
from .norms import load_norms
from .params import MDS_TIES, MDS_TYPES
from .responses import MISSING_CELLS, read_csv_rows, read_responses
from .scoring import DEFAULT_MIN_VALID_FOR_MRAT, DEFAULT_MIN_VALID_PER_VALUE, score_responses

# The analysis subcommands import their modules when they run: scikit-learn and
# factor-analyzer take most of a second to load, which every other subcommand would pay.
# The choices below are spelled out for the same reason; tests/test_cli.py checks them.
LDA_SOLVERS = ("auto", "svd", "shrinkage")


def _parse_reply(arguments: argparse.Namespace) -> int:
    labels = resolve_instrument(arguments.instrument).scale_labels if arguments.instrument else None
    text = arguments.text if arguments.text is not None else _read_text(arguments.file)
    parsed = parse_reply(text, labels=labels, finish_reason=arguments.finish_reason)
    print(json.dumps(parsed.as_dict()))
    return 0


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, None, "file not found", "check the --file path") from None
    except UnicodeDecodeError:
        raise InputError(path, None, "not UTF-8 text", "save the reply as UTF-8") from None
    except OSError as error:
        raise InputError(path, None, f"cannot read the file ({error.strerror})", "check the --file path") from None


def _score(arguments: argparse.Namespace) -> int:
    output = arguments.output
    if output is not None and output.is_dir():
        raise InputError(str(output), None, "is a folder", "give --output a file name such as scores.csv")

    instrument = resolve_instrument(arguments.instrument or DEFAULT_INSTRUMENT_ID)
    identifiers, ratings = read_responses(arguments.responses, continuous=arguments.continuous,
                                          delimiter=arguments.delimiter)

    scores = score_responses(
        ratings,
        key=instrument.key,
        min_valid_per_value=arguments.min_valid_items_per_value,
        min_valid_for_mrat=arguments.min_valid_items_for_mrat,
    )

    overlap = sorted(set(identifiers.columns) & set(scores.columns))
    if overlap:
        raise InputError(str(arguments.responses), f"column '{overlap[0]}'",
                         "clashes with a score column of the same name", "rename that column in the responses file")
    table = pd.concat([identifiers, scores], axis=1)
    text = csv_text(table, text_columns=tuple(identifiers.columns))

    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        atomic_write_text(output, text)
    except OSError as error:
        raise InputError(str(output), None, f"cannot write the file ({error.strerror})",
                         "give --output a path in a folder you can write to") from None

    summary = {
        "output": str(output),
        "respondents": len(table),
        "instrument": instrument.id,
        "missing_mrat": int(scores["mrat"].isna().sum()),
    }
    print(json.dumps(summary))
    return 0


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_MIN_ITEM_ROWS = 3


def _reliability(arguments: argparse.Namespace) -> int:
    table, lines = _read_item_table(arguments.items, arguments.delimiter)
    source = str(arguments.items)
    complete = int(table.notna().all(axis=1).sum())
    if complete < _MIN_ITEM_ROWS:
        dropped = len(table) - complete
        where = None
        if dropped:
            row = int(table.notna().all(axis=1).to_numpy().argmin())
            column = table.columns[int(table.iloc[row].isna().to_numpy().argmax())]
            where = f"line {lines[row]}, column '{column}'"
        raise InputError(source, where,
                         f"{complete} complete rows ({dropped} with a missing cell), "
                         f"need at least {_MIN_ITEM_ROWS}",
                         "add rows with a number in every column; rows with an empty cell are dropped")

    from .reliability import scale_reliability

    result = scale_reliability(table, case_name="rows")
    output = {
        "alpha_raw": _json_number(result.alpha_raw),
        "alpha_std": _json_number(result.alpha_std),
        "feldt_ci": [_json_number(result.feldt_lower), _json_number(result.feldt_upper)],
        "omega_total": _json_number(result.omega_total),
        "n": result.n,
        "k": result.k,
        "n_dropped": result.n_dropped,
        "constant_items": list(result.constant_items),
        "reason": result.reason,
    }
    print(json.dumps(output, allow_nan=False))
    return 0


def _json_number(value: float) -> float | None:
    """Return the value, or None (JSON null) for NaN, which JSON cannot represent."""
    return None if math.isnan(value) else value


def _read_item_table(path: Path, delimiter: str) -> tuple[pd.DataFrame, list[int]]:
    """Read a CSV of cases x items: a header row of item names, then numbers.

    Returns the table (floats, NaN for a missing cell) and the line each row starts on.
    Raises InputError, naming the file, line and column, for an unreadable file or a
    header with fewer than 2 columns or with a duplicate or empty name. It does the same
    for a row with the wrong number of fields and for a cell that is not a number.
    """
    source = str(path)
    header, text_rows, lines = read_csv_rows(
        path, delimiter, what="items", option="--items", check_header=_check_item_header,
        row_fix="give every row one field per column (an empty field for a missing rating)",
        empty_fix="add a header row of item names and one row per case")
    rows = [[_item_cell(cell, source, f"line {line}, column '{name}'") for cell, name in zip(fields, header)]
            for fields, line in zip(text_rows, lines)]
    return pd.DataFrame(rows, columns=header, dtype=float), lines


def _check_item_header(header: list[str], source: str, delimiter: str) -> None:
    if len(header) < 2:
        fix = "give one column per item, at least 2"
        for other in (",", ";", "\t", "|"):
            if other != delimiter and other in header[0]:
                separator_name = "tab" if other == "\t" else f"'{other}'"
                fix = f"the file looks separated by {separator_name}; pass --delimiter {separator_name}"
                break
        raise InputError(source, "line 1", f"found {len(header)} column, but a scale needs at least 2 items", fix)
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(source, f"line 1, column {position}", "the column has no name",
                             "name every column in the header row, or remove the empty column")
        if name in seen:
            raise InputError(source, f"column '{name}'",
                             f"appears twice in the header (columns {seen[name]} and {position})",
                             "give every column its own name")
        seen[name] = position


def _item_cell(cell: str, source: str, where: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING_CELLS:
        return math.nan
    if not _NUMBER.fullmatch(text):
        raise InputError(source, where, f"{text!r} is not a number",
                         "write every rating as a number, or leave the cell empty for a missing rating")
    value = float(text)
    if not abs(value) < 1e150:  # squares of larger numbers overflow double precision
        raise InputError(source, where, f"{text!r} is too large", "rescale the data so that every number is below 1e150")
    return value


def _mds(arguments: argparse.Namespace) -> int:
    from .circle import angles_degrees, out_of_order, procrustes
    from .matrixfile import read_configuration, read_dissimilarities
    from .smacof import random_starts, smacof_best

    source = str(arguments.dissimilarities)
    names, matrix = read_dissimilarities(arguments.dissimilarities)
    order = _circle_order(arguments.circle_order, names, source)

    init = arguments.init.lower() if arguments.init.lower() in ("theory", "torgerson") else arguments.init
    if init == "theory":
        if order is None:
            raise InputError("--init", None, "the theoretical start needs the circle order of the points",
                             "pass --circle-order with every point name in circular order, or use --init torgerson")
        start: str | np.ndarray = _circle_positions(order, names)
    elif init == "torgerson":
        start = "torgerson"
    else:
        start = read_configuration(Path(init), names)

    starts = [start] + random_starts(len(names), 2, arguments.random_starts, arguments.seed)
    try:
        result, _ = smacof_best(matrix, starts, kind=arguments.type, ties=arguments.ties, eps=arguments.eps,
                                max_iterations=arguments.max_iterations)
    except ValueError as error:
        if "start configuration" in str(error) and init not in ("theory", "torgerson"):
            raise InputError(init, None, str(error), "give the points distinct coordinates") from None
        raise InputError(source, None, str(error), "check the values of the matrix") from None

    output = {
        "stress1": result.stress1,
        "iterations": result.iterations,
        "converged": result.converged,
        "type": arguments.type,
        "ties": arguments.ties if arguments.type == "ordinal" else None,  # ties apply to ordinal MDS only
        "configuration": {name: [float(value) for value in result.configuration[index]]
                          for index, name in enumerate(names)},
    }
    if order is not None:
        fit = procrustes(_circle_positions(order, names), result.configuration)
        output["procrustes"] = {"congruence": fit.congruence, "alienation": fit.alienation, "dilation": fit.dilation}
        positions = [names.index(name) for name in order]
        angles = angles_degrees(fit.fitted)[positions]
        output["out_of_order"] = [order[index] for index in out_of_order(angles)]
    print(json.dumps(output, allow_nan=False))
    return 0


def _circle_order(text: str | None, names: list[str], source: str) -> list[str] | None:
    if text is None:
        return None
    order = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in order if name not in names]
    if unknown:
        raise InputError("--circle-order", None, f"{unknown[0]!r} is not a point of {source}",
                         f"use the names of the matrix header: {', '.join(names)}")
    repeated = sorted({name for name in order if order.count(name) > 1})
    if repeated:
        raise InputError("--circle-order", None, f"{repeated[0]!r} appears twice", "list every point once")
    missing = [name for name in names if name not in order]
    if missing:
        raise InputError("--circle-order", None, f"the point {missing[0]!r} is missing",
                         "list every point of the matrix once, in circular order")
    return order


def _circle_positions(order: list[str], names: list[str]) -> np.ndarray:
    """Return the theoretical circle for points in ``order``, as rows in the order of ``names``."""
    from .circle import theoretical_circle

    points = theoretical_circle(len(order))
    return np.array([points[order.index(name)] for name in names])


def _lda(arguments: argparse.Namespace) -> int:
    from .discriminant import discriminant_analysis
    from .matrixfile import read_grouped_table

    data, groups, _ = read_grouped_table(arguments.data, arguments.group)
    try:
        result = discriminant_analysis(data, groups, solver=arguments.solver, permutations=arguments.permutations,
                                       seed=arguments.seed, case_name="rows")
    except ValueError as error:
        raise InputError(str(arguments.data), None, str(error),
                         "give every group at least 2 complete rows (and more rows than predictors), "
                         "or drop the small groups") from None
    output = {
        "loo_accuracy": result.loo_accuracy,
        "proportion_of_trace": result.proportion_of_trace,
        "confusion_matrix": {"labels": result.groups,
                             "counts": result.confusion_matrix.to_numpy(dtype=int).tolist()},
        "training_accuracy": result.training_accuracy,
        "solver": result.solver,
        "solver_reason": result.solver_reason,
        "n": result.n_cases,
        "dropped_predictors": result.dropped,
        "structure_coefficients": {name: [_json_number(value) for value in row]
                                   for name, row in zip(result.predictors,
                                                        result.structure_coefficients.to_numpy(dtype=float))},
        "notes": result.notes,
    }
    if result.permutation:
        output["permutation"] = result.permutation
    print(json.dumps(output, allow_nan=False))
    return 0


def _check_dilemmas(arguments: argparse.Namespace) -> int:
    from .dilemmas import load_dilemma_set, pair_coverage

    dilemma_set = load_dilemma_set(arguments.file)
    coverage = pair_coverage(dilemma_set)
    print(json.dumps({
        "id": dilemma_set.id,
        "name": dilemma_set.name,
        "dilemmas": len(dilemma_set.dilemmas),
        "original": dilemma_set.original,
        "validated": dilemma_set.validated,
        "pairs": [{"pair": row["pair"], "dilemmas": row["dilemmas"], "both_directions": row["both_directions"],
                   "opposing": row["opposing"]} for row in coverage],
    }))
    return 0


def _dilemma_fit(arguments: argparse.Namespace) -> int:
    from .dilemma_stats import (fit_side_logit, fit_strength_ordinal, permutation_test_by_dilemma,
                                permutation_test_slope)

    source = str(arguments.data)
    table = _read_dilemma_answers(arguments.data, arguments.delimiter)
    output: dict = {}
    side = fit_side_logit(table, confidence=arguments.confidence, source=source)
    fits = [("side", side)]
    if "strength" in table.columns:
        # Strength is optional: rows without it still count for the side regression.
        rated = table[table["strength"].notna()]
        fits.append(("strength", fit_strength_ordinal(rated, confidence=arguments.confidence, source=source)))
    for name, fit in fits:
        output[name] = {
            "terms": list(fit.terms),
            "coef": [_json_number(value) for value in fit.coef],
            "se_model": [_json_number(value) for value in fit.se_model],
            "se_cluster": [_json_number(value) for value in fit.se_cluster],
            "slope": _json_number(fit.slope),
            "p": _json_number(fit.p),
            "odds_ratio": _json_number(fit.odds_ratio),
            "odds_ratio_ci": [_json_number(fit.odds_ratio_low), _json_number(fit.odds_ratio_high)],
            "mcfadden_r2": _json_number(fit.mcfadden_r2),
            "n": fit.n,
            "clusters": fit.n_clusters,
            "reason": fit.reason,
        }
    if arguments.permutations:
        note = ""
        if arguments.shuffle == "dilemmas" and not math.isnan(side.slope):
            # As the pipeline does: without every (model, trial, dilemma) row, shuffle rows within model.
            test, fallback = permutation_test_by_dilemma(table, permutations=arguments.permutations,
                                                         seed=arguments.seed, source=source)
            if fallback:
                note = f"whole dilemmas could not be shuffled ({fallback}), so rows were shuffled within model"
        else:
            test = permutation_test_slope(table, permutations=arguments.permutations, seed=arguments.seed,
                                          shuffle=arguments.shuffle, source=source)
        output["permutation"] = {"p": _json_number(test.p), "permutations": test.permutations,
                                 "shuffle": test.shuffle, "reason": test.reason, "note": note}
    print(json.dumps(output, allow_nan=False))
    return 0


def _read_dilemma_answers(path: Path, delimiter: str) -> pd.DataFrame:
    """Read a CSV of dilemma answers: one row per (model, trial, dilemma) answer."""
    if not path.is_file():
        raise InputError(str(path), None, "file not found", "check the path")
    try:
        # pandas renames a repeated column ("chose_a.1"), so the header is read as written first.
        with path.open(encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream, delimiter=delimiter), [])
        table = pd.read_csv(path, dtype={"model": str, "dilemma": str}, sep=delimiter)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(str(path), None, f"not a readable CSV ({' '.join(str(error).split())})",
                         "save it as UTF-8 CSV with a header row") from None
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(str(path), f"column '{repeated[0]}'", "given twice in the header", "keep one of them")
    if len(header) == 1:
        shown = "tab" if delimiter == "\t" else repr(delimiter)
        raise InputError(str(path), "line 1", f"one column only ({header[0]!r}) with the separator {shown}",
                         "give the file's separator with --delimiter (default: ,)")
    # Index the rows by their line in the file (the header is line 1), so errors name the line.
    table.index = pd.RangeIndex(2, len(table) + 2, name="line")
    return table


def _check_instrument(arguments: argparse.Namespace) -> int:
    instrument = resolve_instrument(arguments.instrument)
    print(json.dumps({
        "id": instrument.id,
        "path": instrument.path,
        "items": len(instrument.items),
        "forms": list(instrument.forms),
        "language": instrument.language,
        "original": instrument.original,
        "validated": instrument.validated,
    }))
    return 0


def _check_params(arguments: argparse.Namespace) -> int:
    params = load_params(arguments.params)
    instrument = select_instrument(params["instrument"], str(arguments.params), root=Path(arguments.params).parent)
    root = Path(arguments.params).parent
    for slug in params["models"]:
        select_template(params, slug, str(arguments.params))
        dilemmas = select_dilemma_battery(params, slug, str(arguments.params), root=root)
    norms_path = Path(arguments.params).parent / params["norms"]["file"]
    if not norms_path.is_file():
        raise InputError(params["norms"]["file"], None, "norms file not found", "check norms.file in params.yaml")
    load_norms(norms_path)
    print(json.dumps({"params": str(arguments.params), "models": list(params["models"]), "instrument": instrument.id,
                      "dilemmas": dilemmas.dilemma_set.id}))
    return 0


def _delimiter(text: str) -> str:
    """Parse a field separator: one character, or the word ``tab``."""
    if text.lower() == "tab":
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"must be one character or the word tab, got {text!r}")
    return text


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _open_unit(text: str) -> float:
    """Parse a number strictly between 0 and 1, such as a confidence level."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}")
    return value


def _threshold(minimum: int, maximum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {minimum} to {maximum}, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {maximum}, got {value}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmvalues",
        description="Score portrait values questionnaires answered by language models or by people.",
    )
    parser.add_argument("--version", action="version", version=f"llmvalues {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parse = commands.add_parser(
        "parse-reply", help="read the rating in one reply; print JSON with status and rating",
        description="Classify one reply (valid, hedged, refusal, out_of_range, ambiguous, unparseable, "
                    "empty, truncated) and print JSON with status, rating (null unless counted), "
                    "candidates and note.",
    )
    reply = parse.add_mutually_exclusive_group(required=True)
    reply.add_argument("--text", help="the reply text (write --text=-5 for text that starts with '-')")
    reply.add_argument("--file", help="read the reply from this UTF-8 file ('-' for standard input)")
    parse.add_argument("--finish-reason", help="the provider's finish reason; 'length' or 'max_tokens' means truncated")
    parse.add_argument("--instrument", help="instrument file or built-in id whose scale labels to read "
                                            "(default: the built-in English labels)")
    parse.set_defaults(run=_parse_reply)

    score = commands.add_parser(
        "score", help="score a CSV of respondents x 57 items",
        description="Score a wide CSV (one row per respondent, item columns 1-57 or item1-item57; "
                    "other columns are copied as identifiers). Writes per respondent: n_valid, mrat, "
                    "and per value <CODE>_n, <CODE>_raw, <CODE>_centered, then the basic and "
                    "higher-order values.",
    )
    score.add_argument("--responses", required=True, type=Path, help="the responses CSV file")
    score.add_argument("--instrument", help="instrument file or built-in id (default: llmvalues-portraits-v1)")
    score.add_argument("--output", type=Path, help="write the scores CSV here and print a JSON summary "
                                                   "(default: write the CSV to standard output)")
    score.add_argument("--delimiter", default=",", type=_delimiter,
                       help="the field separator: one character, or tab (default: ',')")
    score.add_argument("--min-valid-items-per-value", type=_threshold(1, 3), default=DEFAULT_MIN_VALID_PER_VALUE,
                       metavar="N", help="a value with fewer valid items (of 3) is missing (default: %(default)s)")
    score.add_argument("--min-valid-items-for-mrat", type=_threshold(1, 57), default=DEFAULT_MIN_VALID_FOR_MRAT,
                       metavar="N", help="MRAT and centered scores are missing with fewer valid items "
                                         "(of 57) (default: %(default)s)")
    score.add_argument("--continuous", action="store_true",
                       help="accept ratings that are not whole numbers (means of digit distributions)")
    score.set_defaults(run=_score)

    reliability = commands.add_parser(
        "reliability", help="Cronbach's alpha, Feldt's 95%% interval and omega total of a CSV of items",
        description="Compute the reliability of one scale from a CSV with a header row and one column per "
                    "item (any numeric data, one row per case). Rows with an empty or NA cell are dropped. "
                    "Prints JSON with alpha_raw, alpha_std, feldt_ci ([lower, upper], 95%), omega_total "
                    "(one-factor minres model), n (rows used), k (items), n_dropped, constant_items and "
                    "reason (why a statistic is null; empty when every statistic is a number). The "
                    "definitions are those of R's psych::alpha and psych::omega(x, nfactors=1), except that items "
                    "with negative loadings are not reversed.",
    )
    reliability.add_argument("--items", required=True, type=Path, help="the CSV file of cases x items")
    reliability.add_argument("--delimiter", default=",", type=_delimiter,
                             help="the field separator: one character, or tab (default: ',')")
    reliability.set_defaults(run=_reliability)

    mds = commands.add_parser(
        "mds", help="fit a SMACOF configuration to a dissimilarity matrix; print JSON with stress-1",
        description="Fit a two-dimensional SMACOF configuration (as R's smacof::smacofSym) to a CSV "
                    "dissimilarity matrix: a header row of point names, then one row per point in the same "
                    "order (a first column of row names is accepted when its header cell is empty). Prints "
                    "JSON with stress1 (smacof's stress-1), iterations, converged and configuration; with "
                    "--circle-order also procrustes (congruence, alienation, dilation of the one-sided fit "
                    "to the theoretical circle) and out_of_order.",
    )
    mds.add_argument("--dissimilarities", required=True, type=Path, help="the CSV dissimilarity matrix")
    mds.add_argument("--type", choices=MDS_TYPES, default="ordinal", help="transformation (default: ordinal)")
    mds.add_argument("--ties", choices=MDS_TIES, default="primary",
                     help="ordinal ties: primary (may differ, smacof's default) or secondary")
    mds.add_argument("--init", default="torgerson", metavar="theory|torgerson|FILE",
                     help="start: the theoretical circle (needs --circle-order), classical scaling (default), "
                          "or a CSV with the columns point,x,y")
    mds.add_argument("--circle-order", metavar="CODES",
                     help="every point name once, comma-separated, in theoretical circular order")
    mds.add_argument("--random-starts", type=_threshold(0, 10_000), default=0,
                     help="extra seeded random starts (default: 0)")
    mds.add_argument("--seed", type=_threshold(0, 2**32 - 1), default=0, help="seed of the random starts (default: 0)")
    mds.add_argument("--eps", type=_positive_float, default=1e-6,
                     help="stop when the normalised raw stress decreases by less than this (default: 1e-6)")
    mds.add_argument("--max-iterations", type=_threshold(1, 10_000_000), default=1000,
                     help="iteration limit (default: 1000)")
    mds.set_defaults(run=_mds)

    lda = commands.add_parser(
        "lda", help="linear discriminant analysis of a CSV with a group column; print JSON with the accuracy",
        description="Fit a linear discriminant analysis (scikit-learn; equal to R's MASS::lda with the svd "
                    "solver) to a CSV with a header row, one column of group labels and numeric predictors. "
                    "Rows with a missing predictor are dropped. Prints JSON with loo_accuracy (leave-one-out), "
                    "proportion_of_trace, confusion_matrix (labels; counts, rows true and columns predicted), "
                    "training_accuracy, solver and structure_coefficients.",
    )
    lda.add_argument("--data", required=True, type=Path, help="the CSV file")
    lda.add_argument("--group", required=True, help="the name of the column of group labels")
    lda.add_argument("--solver", choices=LDA_SOLVERS, default="svd",
                     help="svd (default, as MASS::lda), shrinkage (Ledoit-Wolf), or auto (shrinkage when "
                          "cases are few per predictor)")
    lda.add_argument("--permutations", type=_threshold(0, 1_000_000), default=0,
                     help="permutations of the labels to test the leave-one-out accuracy (default: 0)")
    lda.add_argument("--seed", type=_threshold(0, 2**32 - 1), default=0, help="seed of the permutations (default: 0)")
    lda.set_defaults(run=_lda)

    dilemma_fit = commands.add_parser(
        "dilemma-fit", help="regress dilemma choices on value differences; print JSON with the slopes",
        description="Fit the logistic regression chose_a ~ value_diff + model (and, with a strength column, the "
                    "cumulative-logit regression of strength 1-6) with standard errors clustered by dilemma (CR1, "
                    "as sandwich::vcovCL type HC1). The CSV has a header row and the columns model, trial, dilemma, "
                    "value_diff, chose_a (0 or 1) and optionally strength (1-6, 6 = definitely option A). Prints "
                    "JSON with side and strength: terms, coef, se_model, se_cluster, slope, p, odds_ratio, "
                    "odds_ratio_ci, mcfadden_r2, n, clusters and reason (empty when the fit is defined).",
    )
    dilemma_fit.add_argument("--data", required=True, type=Path, help="the CSV file")
    dilemma_fit.add_argument("--confidence", type=_open_unit, default=0.95,
                             help="level of the odds-ratio interval, between 0 and 1 (default: 0.95)")
    dilemma_fit.add_argument("--permutations", type=_threshold(0, 1_000_000), default=0,
                             help="permutations for a test of the side slope (default: 0, no test)")
    dilemma_fit.add_argument("--shuffle", choices=("dilemmas", "rows"), default="dilemmas",
                             help="what the permutation test shuffles: whole dilemmas (default; needs one row per "
                                  "model, trial and dilemma) or rows within model")
    dilemma_fit.add_argument("--seed", type=_threshold(0, 2**32 - 1), default=0,
                             help="seed of the permutations (default: 0); fits.csv of the dilemmas stage lists the "
                                  "seed of each of its tests")
    dilemma_fit.add_argument("--delimiter", type=_delimiter, default=",",
                             help="field separator: one character, or tab (default: ,)")
    dilemma_fit.set_defaults(run=_dilemma_fit)

    check_dilemmas = commands.add_parser(
        "check-dilemmas", help="validate a dilemma file; print JSON with its id and value pairs",
        description="Load and validate a dilemma file (YAML or CSV, see docs/dilemmas.md) and print JSON with id, "
                    "name, dilemmas (the count), original, validated and pairs: each value pair with its number of "
                    "dilemmas, whether it appears in both directions and whether its values come from opposing "
                    "higher-order groups.",
    )
    check_dilemmas.add_argument("file", type=Path, help="the dilemma file")
    check_dilemmas.set_defaults(run=_check_dilemmas)

    check_instrument = commands.add_parser(
        "check-instrument", help="validate an instrument file; print JSON with its id, items and forms",
        description="Load and validate an instrument file (or a built-in id) and print JSON with id, path, "
                    "items, forms, language, original and validated.",
    )
    check_instrument.add_argument("instrument", help="instrument file or built-in id")
    check_instrument.set_defaults(run=_check_instrument)

    check_params = commands.add_parser(
        "check-params", help="validate params.yaml and the instrument it selects",
        description="Validate every key of params.yaml, the instrument file and form it selects, and each "
                    "model's template and weights; print JSON with the models and the instrument id. "
                    "make repro runs this first.",
    )
    check_params.add_argument("--params", type=Path, default=Path("params.yaml"),
                              help="the params file (default: params.yaml)")
    check_params.set_defaults(run=_check_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except InputError as error:
        print(f"llmvalues: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
