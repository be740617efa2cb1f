"""Replication: a fresh clone's ``dvc repro --force`` recomputes every committed output byte for byte.

The test clones the repository's last commit (uncommitted edits are not part of
a clone), recomputes the whole default study from the committed answers, and
checks that git sees no change: dvc.lock, the metrics, tables, figures and the
report are the same bytes. Collect re-runs too, and must send no request.
"""

import re
import subprocess

from conftest import PROJECT_ROOT
from test_pipeline import BIN, run


def test_fresh_clone_repro_is_identical(tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(clone)], tmp_path)
    lock_before = (clone / "dvc.lock").read_bytes()

    result = run([str(BIN / "dvc"), "repro", "--force"], clone, timeout=1800)

    sent = re.findall(r"(\d+) requests sent", result.stdout + result.stderr)
    assert sent and set(sent) == {"0"}, sent
    assert "Running stage 'report'" in result.stdout
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", f"outputs changed on recompute:\n{status}"
    assert (clone / "dvc.lock").read_bytes() == lock_before
    # The stamp is the one file that differs from run to run, and git ignores it.
    assert (clone / "build" / "stamp.json").is_file()
