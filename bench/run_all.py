"""`make bench`: every benchmark, one after another. Each prints its own figures."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["web.py", "org_import.py", "demo_load.py", "goals_tree.py", "recognition_feed.py", "internal_matrix.py", "authority_use.py", "pulse_results.py", "scores_import.py", "quality_figures.py", "chain.py", "load.py", "analytics_refresh.py", "faults.py"]

failed = 0
for script in SCRIPTS:
    path = HERE / script
    if not path.exists():
        continue
    print(f"\n=== {script} ===", flush=True)
    failed |= subprocess.run([sys.executable, str(path)], cwd=HERE.parent).returncode != 0
sys.exit(1 if failed else 0)
