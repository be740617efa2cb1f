"""The ``llmvalues`` command: apply the engine to one's own files.

Each subcommand prints JSON (or writes a CSV) with documented keys so that
scripts can rely on them. Errors go to standard error, one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from . import __version__
from .collect import select_template
from .errors import InputError
from .instrument import DEFAULT_INSTRUMENT_ID, resolve_instrument, select_instrument
from .outputs import atomic_write_text, csv_text
from .params import load_params
from .parsing import parse_reply
from .responses import read_responses
from .scoring import DEFAULT_MIN_VALID_FOR_MRAT, DEFAULT_MIN_VALID_PER_VALUE, score_responses


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
    for slug in params["models"]:
        select_template(params, slug, str(arguments.params))
    print(json.dumps({"params": str(arguments.params), "models": list(params["models"]), "instrument": instrument.id}))
    return 0


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
    score.add_argument("--delimiter", default=",", help="the field separator (default: ',')")
    score.add_argument("--min-valid-items-per-value", type=_threshold(1, 3), default=DEFAULT_MIN_VALID_PER_VALUE,
                       metavar="N", help="a value with fewer valid items (of 3) is missing (default: %(default)s)")
    score.add_argument("--min-valid-items-for-mrat", type=_threshold(1, 57), default=DEFAULT_MIN_VALID_FOR_MRAT,
                       metavar="N", help="MRAT and centered scores are missing with fewer valid items "
                                         "(of 57) (default: %(default)s)")
    score.add_argument("--continuous", action="store_true",
                       help="accept ratings that are not whole numbers (means of digit distributions)")
    score.set_defaults(run=_score)

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
