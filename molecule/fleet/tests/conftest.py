"""Make the repository's test helpers importable (tests.helpers.schemas) from the scenario's verifier."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
