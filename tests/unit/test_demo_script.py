"""scripts/demo.py shows kubesync's own output without the per-object diffs (which only the drift step
prints in full), and its steps stay small functions an episode can be added to."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
spec = importlib.util.spec_from_file_location("demo_script", SCRIPT)
demo = importlib.util.module_from_spec(spec)
sys.modules["demo_script"] = demo  # its dataclass looks its module up
spec.loader.exec_module(demo)

APPLY = """\
Plan: 1 to create, 1 to update, 0 to scale, 0 to delete (0 unchanged).

WAVE  ACTION  OBJECT                        ORIGIN      RISKS
3     create  v1 ConfigMap demo/a           a.yaml:1    -
3     update  v1 ConfigMap demo/b           b.yaml:1    -

\033[1m--- /dev/null\033[0m
+++ desired/v1.ConfigMap.demo.a
@@ -0,0 +1,3 @@
+apiVersion: v1
+ created: not a result line, a key in the diff
+kind: ConfigMap

# v1 ConfigMap demo/b: a note above its diff
--- live/v1.ConfigMap.demo.b
+++ desired/v1.ConfigMap.demo.b
@@ -1,2 +1,2 @@
-  LOG_LEVEL: debug
+  LOG_LEVEL: info
\033[32m+ created  \033[0m v1 ConfigMap demo/a
~ patched   v1 ConfigMap demo/b
Apply complete: 1 created, 1 patched, 0 scaled, 0 deleted.
"""


def test_condensed_keeps_the_tables_and_results_and_counts_the_diff_lines_left_out():
    kept, hidden = demo.condensed(APPLY)
    text = "\n".join(kept)
    assert "WAVE  ACTION" in text and "update  v1 ConfigMap demo/b" in text
    assert "\033[32m+ created  \033[0m v1 ConfigMap demo/a" in kept and "~ patched   v1 ConfigMap demo/b" in kept
    assert kept[-1].startswith("Apply complete")
    assert "LOG_LEVEL" not in text and "+++" not in text and "not a result line" not in text and "a note" not in text
    assert hidden == 12


def test_the_steps_are_small_functions_of_one_demo():
    import inspect

    assert demo.STEPS[0] is demo.first_plan and demo.STEPS[-1] is demo.daemon_and_dashboard
    for step in demo.STEPS:
        assert list(inspect.signature(step).parameters) == ["demo"], step.__name__
        assert len(inspect.getsource(step).splitlines()) <= 40, f"{step.__name__}: keep a step to one screen of code"
