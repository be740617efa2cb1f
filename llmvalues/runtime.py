"""Process set-up shared by the stage scripts.

Import this module before numpy (directly or through another llmvalues module):
it limits the BLAS libraries to one thread, because multithreaded reductions can
change the last bits of a result and tracked outputs must be identical on every run.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_variable] = "1"


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; report bad input on one line and exit with status 1.

    Ctrl-C ends the stage with status 130 and one line instead of a traceback.
    Whatever the stage had already stored (collected answers) stays stored.
    """
    from .errors import InputError

    try:
        main()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: answers received so far are stored; run the stage again to resume",
              file=sys.stderr)
        sys.exit(130)
