"""Read and validate ``params.yaml``, the file that holds every choice of a study.

Each key has a declared type. A value of the wrong type, an unknown key (often a
typo) or a missing key stops the run with one line naming the file, the dotted
key and the fix. Numbers are never converted from quoted text: ``'10'`` is text
and is reported, so that DVC (which compares params as written) and the
stages agree on what changed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .instrument import FORMS
from .values import N_ITEMS
from .yamlfile import load_yaml

# Model keys become stage names (collect@<key>), dotted param paths (models.<key>)
# and file names (data/raw/<key>.jsonl), so they are restricted to a safe slug.
MODEL_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
PROVIDERS = ("llama_cpp", "openai", "anthropic", "openai_compatible")
# The MDS choices, written out rather than imported so that validating params does not
# load the MDS code (every stage reads params.yaml). tests/test_params.py checks that
# they match llmvalues.smacof and llmvalues.structure.
MDS_TYPES = ("ordinal", "interval", "ratio")
MDS_TIES = ("primary", "secondary")
MDS_DISSIMILARITIES = ("sqrt(2(1-r))", "1-r")
MDS_INITS = ("theory", "torgerson")
# Sources of a dilemma's value difference: the model's scores in the same trial, or
# its mean profile over all trials.
DILEMMA_PREDICTORS = ("trial", "profile")


class Spec:
    """The type of one param; ``check`` returns the value or raises InputError."""

    def check(self, value: Any, source: str, key: str) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def _quoted_hint(value: Any) -> str:
    return f"the text {value!r}" if isinstance(value, str) else repr(value)


@dataclass(frozen=True)
class Int(Spec):
    minimum: int
    maximum: int | None = None

    def check(self, value, source, key):
        if isinstance(value, bool) or not isinstance(value, int):
            fix = f"write {value} without quotes" if isinstance(value, str) and value.strip().lstrip("-").isdigit() \
                else f"write a whole number such as {self.minimum}"
            raise InputError(source, key, f"must be an integer, got {_quoted_hint(value)}", fix)
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise InputError(source, key, f"must be {self.describe()}, got {value}", "change the value")
        return value

    def describe(self):
        if self.maximum is None:
            return f"an integer of at least {self.minimum}"
        return f"an integer from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class Float(Spec):
    minimum: float
    maximum: float

    def check(self, value, source, key):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fix = "write the number without quotes"
            raise InputError(source, key, f"must be a number, got {_quoted_hint(value)}", fix)
        if not self.minimum <= value <= self.maximum:
            raise InputError(source, key, f"must be {self.describe()}, got {value}", "change the value")
        return float(value)

    def describe(self):
        return f"a number from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class Nullable(Spec):
    """A value of ``inner``'s type, or null."""

    inner: Spec

    def check(self, value, source, key):
        return None if value is None else self.inner.check(value, source, key)

    def describe(self):
        return f"{self.inner.describe()}, or null"


@dataclass(frozen=True)
class Choice(Spec):
    options: tuple[str, ...]

    def check(self, value, source, key):
        if value not in self.options:
            raise InputError(source, key, f"invalid value {value!r}", f"use one of {', '.join(self.options)}")
        return value

    def describe(self):
        return "one of " + ", ".join(self.options)


@dataclass(frozen=True)
class Flag(Spec):
    def check(self, value, source, key):
        if not isinstance(value, bool):
            raise InputError(source, key, f"must be true or false, got {_quoted_hint(value)}",
                             "write true or false without quotes")
        return value

    def describe(self):
        return "true or false"


@dataclass(frozen=True)
class Text(Spec):
    pattern: str | None = None
    hint: str = "non-empty text"

    def check(self, value, source, key):
        if not isinstance(value, str) or not value.strip():
            raise InputError(source, key, f"must be {self.hint}, got {value!r}", f"write {self.hint}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise InputError(source, key, f"invalid value {value!r}", f"write {self.hint}")
        return value

    def describe(self):
        return self.hint


@dataclass(frozen=True)
class Section(Spec):
    fields: dict[str, Spec]
    optional: tuple[str, ...] = ()

    def check(self, value, source, key):
        if not isinstance(value, dict):
            raise InputError(source, key or "top level", f"must be a mapping of keys, got {value!r}",
                             f"give the keys {', '.join(self.fields)}")
        prefix = f"{key}." if key else ""
        for name in value:
            if name not in self.fields:
                close = difflib.get_close_matches(str(name), list(self.fields), n=1)
                fix = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys: {', '.join(self.fields)}"
                raise InputError(source, f"{prefix}{name}", "unknown key", fix)
        checked = {}
        for name, spec in self.fields.items():
            if name not in value:
                if name in self.optional:
                    continue
                raise InputError(source, f"{prefix}{name}", "missing key",
                                 f"add it: {spec.describe()} (see the shipped params.yaml)")
            checked[name] = spec.check(value[name], source, f"{prefix}{name}")
        return checked

    def describe(self):
        return "a mapping with the keys " + ", ".join(self.fields)


@dataclass(frozen=True)
class Models(Spec):
    entry: Section

    def check(self, value, source, key):
        if not isinstance(value, dict) or not value:
            raise InputError(source, key, "must map at least one model slug to its settings",
                             "see the shipped params.yaml for an example entry")
        checked = {}
        for slug, entry in value.items():
            if not isinstance(slug, str) or not MODEL_SLUG.match(slug):
                raise InputError(source, f"{key}.{slug}", "invalid model key",
                                 "start with a lowercase letter and use lowercase letters, digits and single "
                                 "hyphens only, such as gpt-4o or smollm2-135m (no dots, spaces or slashes)")
            checked[slug] = self.entry.check(entry, source, f"{key}.{slug}")
        return checked

    def describe(self):
        return "a mapping of model slugs to model settings"


MODEL_ENTRY = Section(
    {
        "provider": Choice(PROVIDERS),
        "model": Text(hint="the provider's model id"),
        "template": Text(hint="a prompt template id or file for this model"),
        "dilemma_template": Text(hint="a dilemma-mode prompt template id or file for this model"),
        "api_key_env": Text(pattern=r"[A-Z_][A-Z0-9_]*", hint="the name of an environment variable, such as OPENAI_API_KEY"),
        "base_url": Text(pattern=r"https?://[^\s/?#]+[^\s]*",
                         hint="the server's base URL, such as http://127.0.0.1:8000/v1 (http:// or https://)"),
        # llama_cpp only: a GGUF file of one's own, and engine settings that change the logits
        "model_path": Text(hint="the path of a GGUF file"),
        # llama-cpp-python 0.3.36 rounds a context below 256 up and then overflows its buffers.
        "n_ctx": Int(256, 1 << 20),
        "n_batch": Int(1, 1 << 16),
        "n_threads": Int(1, 1024),
        "reuse_prefix": Flag(),
        # Per-model values of collect settings, for models that need another budget or
        # sampling. Null leaves the setting out of the request (reasoning models reject it).
        "temperature": Nullable(Float(0.0, 2.0)),
        "top_p": Nullable(Float(0.0, 1.0)),
        "max_tokens": Int(1, 1 << 20),
        "constrain": Choice(("none", "digit")),
        # remote providers only: speed, retries, batches and spending (none of them changes a reply)
        "concurrency": Int(1, 1024),
        "requests_per_minute": Int(0, 1_000_000),
        "timeout_s": Float(0.01, 86_400.0),
        "retries": Int(0, 100),
        "backoff_s": Float(0.0, 3600.0),
        "max_backoff_s": Float(0.0, 86_400.0),
        "batch": Flag(),
        "batch_poll_s": Float(0.01, 86_400.0),
        "max_spend_usd": Float(0.0, 1e9),
    },
    optional=("template", "dilemma_template", "api_key_env", "base_url", "model_path", "n_ctx", "n_batch", "n_threads",
              "reuse_prefix", "temperature", "top_p", "max_tokens", "constrain", "concurrency",
              "requests_per_minute", "timeout_s", "retries", "backoff_s", "max_backoff_s", "batch", "batch_poll_s",
              "max_spend_usd"),
)

PRICE_ENTRY = Section(
    {
        "input": Float(0.0, 1e6),
        "output": Float(0.0, 1e6),
        "batch_factor": Float(0.0, 1.0),
    },
    optional=("batch_factor",),
)


@dataclass(frozen=True)
class Prices(Spec):
    """US dollars per million tokens, keyed by the provider's model id."""

    entry: Section

    def check(self, value, source, key):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InputError(source, key, f"must map model ids to prices, got {value!r}",
                             "write entries such as gpt-4o-mini: {input: 0.15, output: 0.60, batch_factor: 0.5}")
        checked = {}
        for model_id, entry in value.items():
            if not isinstance(model_id, str) or not model_id.strip():
                raise InputError(source, f"{key}.{model_id}", "a price must be keyed by a model id",
                                 "use the provider's model id, as in models.<slug>.model")
            checked[model_id] = self.entry.check(entry, source, f"{key}.{model_id}")
        return checked

    def describe(self):
        return "a mapping of model ids to {input, output, batch_factor} in US dollars per million tokens"

PARAMS_SPEC = Section(
    {
        "models": Models(MODEL_ENTRY),
        "prices": Prices(PRICE_ENTRY),
        "instrument": Section(
            {
                "file": Text(hint="the path of an instrument file, relative to the project folder"),
                "form": Choice(FORMS),
            }
        ),
        "norms": Section(
            {
                "file": Text(hint="the path of a human norms file, relative to the project folder"),
            }
        ),
        "collect": Section(
            {
                "trials": Int(1),
                "mode": Choice(("item", "block")),
                "answer_mode": Choice(("text", "logprobs")),
                "template": Text(hint="a prompt template id or the path of a template file"),
                "block_template": Text(hint="a block-mode prompt template id or file"),
                "constrain": Choice(("none", "digit")),
                "distribution": Flag(),
                "item_order": Choice(("fixed", "shuffled")),
                "seed": Int(0, (1 << 31) - 1),
                "reasks": Int(0, 10),
                "temperature": Float(0.0, 2.0),
                "top_p": Float(0.0, 1.0),
                "max_tokens": Int(1, 1 << 16),
                # A truncated reply is asked once more with this many tokens (0: no such retry).
                "truncation_max_tokens": Int(0, 1 << 20),
            },
            optional=("truncation_max_tokens",),
        ),
        "clean": Section(
            {
                "rating_source": Choice(("reply", "distribution")),
                "distribution_rating": Choice(("mean", "argmax")),
                "min_digit_mass": Float(0.0, 1.0),
            }
        ),
        "score": Section(
            {
                "min_valid_items_per_value": Int(1, 3),
                "min_valid_items_for_mrat": Int(1, N_ITEMS),
            }
        ),
        "reliability": Section(
            {
                "confidence": Float(0.5, 0.999),
            }
        ),
        "compare": Section(
            {
                "correction": Choice(("holm", "bh")),
                "confidence": Float(0.5, 0.999),
                "bootstrap": Int(0, 1_000_000),
                "seed": Int(0, (1 << 31) - 1),
                "lda_solver": Choice(("auto", "svd", "shrinkage")),
                "lda_permutations": Int(0, 100_000),
            }
        ),
        "dilemmas": Section(
            {
                "file": Text(hint="the path of a dilemma file (YAML or CSV), relative to the project folder"),
                "template": Text(hint="a dilemma-mode prompt template id or file"),
                "predictor": Choice(DILEMMA_PREDICTORS),
                "confidence": Float(0.5, 0.999),
                "permutations": Int(0, 100_000),
                "seed": Int(0, (1 << 31) - 1),
            }
        ),
        "structure": Section(
            {
                "level": Choice(("value", "item")),
                "scores": Choice(("centered", "raw")),
                "dissimilarity": Choice(MDS_DISSIMILARITIES),
                "type": Choice(MDS_TYPES),
                "ties": Choice(MDS_TIES),
                "init": Choice(MDS_INITS),
                "random_starts": Int(0, 1000),
                "pooled": Flag(),
                "permutations": Int(0, 100_000),
                "random_stress_replications": Int(0, 100_000),
                "seed": Int(0, (1 << 31) - 1),
                "eps": Float(1e-15, 0.1),
                "max_iterations": Int(1, 1_000_000),
                "warn_below_trials": Int(0),
            }
        ),
    },
)


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml`` and return its validated contents as nested dicts."""
    document = load_yaml(path, what="params file")
    if document is None:
        document = {}
    return PARAMS_SPEC.check(document, str(path), "")
