"""The ``llmvalues`` command: apply the engine to one's own files.

Each subcommand prints JSON (or writes a CSV) with documented keys so that
scripts can rely on them. Errors go to standard error, one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import InputError
from .scoring import DEFAULT_MIN_VALID_FOR_MRAT, DEFAULT_MIN_VALID_PER_VALUE


def _parse_reply(arguments: argparse.Namespace) -> int:
    from .instrument import resolve_instrument
    from .parsing import parse_reply

    labels = resolve_instrument(arguments.instrument).scale_labels if arguments.instrument else None
    parsed = parse_reply(arguments.text, labels=labels, finish_reason=arguments.finish_reason)
    print(json.dumps(parsed.as_dict()))
    return 0


def _score(arguments: argparse.Namespace) -> int:
    import pandas as pd

    from .instrument import DEFAULT_INSTRUMENT_ID, resolve_instrument
    from .outputs import atomic_write_text, csv_text
    from .responses import read_responses
    from .scoring import score_responses

    instrument = resolve_instrument(arguments.instrument or DEFAULT_INSTRUMENT_ID)
    identifiers, ratings = read_responses(arguments.responses, continuous=arguments.continuous)
    try:
        scores = score_responses(
            ratings,
            key=instrument.key,
            min_valid_per_value=arguments.min_valid_items_per_value,
            min_valid_for_mrat=arguments.min_valid_items_for_mrat,
        )
    except ValueError as error:
        raise InputError("--min-valid-items-per-value/--min-valid-items-for-mrat", None, str(error),
                         "choose thresholds within the stated ranges") from None
    overlap = sorted(set(identifiers.columns) & set(scores.columns))
    if overlap:
        raise InputError(arguments.responses, f"column '{overlap[0]}'", "clashes with a score column of the same name",
                         "rename that column in the responses file")
    table = pd.concat([identifiers, scores], axis=1)
    text = csv_text(table, text_columns=tuple(identifiers.columns))
    if arguments.output is None:
        sys.stdout.write(text)
        return 0
    atomic_write_text(arguments.output, text)
    summary = {
        "output": str(arguments.output),
        "respondents": len(table),
        "instrument": instrument.id,
        "missing_mrat": int(scores["mrat"].isna().sum()),
    }
    print(json.dumps(summary))
    return 0


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
    parse.add_argument("--text", required=True, help="the reply text")
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
    score.add_argument("--min-valid-items-per-value", type=int, default=DEFAULT_MIN_VALID_PER_VALUE,
                       metavar="N", help="a value with fewer valid items (of 3) is missing (default: %(default)s)")
    score.add_argument("--min-valid-items-for-mrat", type=int, default=DEFAULT_MIN_VALID_FOR_MRAT,
                       metavar="N", help="MRAT and centered scores are missing with fewer valid items "
                                         "(of 57) (default: %(default)s)")
    score.add_argument("--continuous", action="store_true",
                       help="accept ratings that are not whole numbers (means of digit distributions)")
    score.set_defaults(run=_score)
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
