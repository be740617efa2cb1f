"""Every library module a stage imports is among that stage's DVC dependencies.

A module missing from a stage's deps would let `dvc repro` skip the stage
after that module changed, and serve outputs of the old code.
"""

import ast
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent


def module_file(name: str) -> Path | None:
    """Return the file of llmvalues module ``name`` (dotted), or None when it is not part of llmvalues."""
    if name != "llmvalues" and not name.startswith("llmvalues."):
        return None
    path = PROJECT / Path(*name.split("."))
    if path.is_dir():
        return path / "__init__.py"
    return path.with_suffix(".py")


def imported_modules(path: Path, package: str) -> set[str]:
    """Return the dotted names of the llmvalues modules that ``path`` imports, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            # "from . import smacof_loop" imports a module, not a name.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if module_file(name) is not None and module_file(name).exists()}


def transitive_files(script: Path) -> set[Path]:
    """Return every llmvalues file that ``script`` reaches through imports."""
    pending = [(script, "")]
    seen: set[Path] = set()
    while pending:
        path, package = pending.pop()
        for name in imported_modules(path, package):
            file = module_file(name)
            if file not in seen:
                seen.add(file)
                module_package = name if file.name == "__init__.py" else name.rpartition(".")[0]
                pending.append((file, module_package))
    return seen


def stage_dependencies() -> dict[str, list[str]]:
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: (stage.get("do") or stage)["deps"] for name, stage in stages.items()}


@pytest.mark.parametrize("stage", sorted(stage_dependencies()))
def test_stage_deps_cover_imports(stage):
    deps = stage_dependencies()[stage]
    covered = [PROJECT / dep for dep in deps if not dep.startswith("$")]
    missing = []
    for file in sorted(transitive_files(PROJECT / "stages" / f"{stage}.py")):
        if file.name == "__init__.py" and file.parent == PROJECT / "llmvalues":
            continue  # the package marker contains only the version
        if not any(file == path or path in file.parents for path in covered):
            missing.append(str(file.relative_to(PROJECT)))
    assert missing == [], f"add to the deps of stage {stage} in dvc.yaml: {', '.join(missing)}"
