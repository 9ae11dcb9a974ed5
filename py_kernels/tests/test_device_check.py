"""scripts/device-check.py, the prepared command for a lent GPU, run here on the CPU with tiny counts: it must work
the first time it meets a GPU, where every minute counts."""
import importlib.util
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "device-check.py")


def _module():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_figure_on_the_cpu(tmp_path):
    out = tmp_path / "check.json"
    done = subprocess.run([sys.executable, SCRIPT, "--device", "cpu", "--iterations", "1", "--seeds-batched", "2",
                           "--side-by-side", "2", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())
    assert found["device"].startswith("cpu")
    assert found["step_ms"] > 0 and found["projected_run_minutes"] > 0
    # the fc ladder's step dispatches on the order of a thousand aten ops; none is a device kernel on the CPU
    assert 200 < found["profile"]["host_ops_per_iteration"] < 20000
    assert found["profile"]["device_kernels_per_iteration"] is None
    assert [b["seeds"] for b in found["batched"]] == [2] and found["batched"][0]["examples_per_second"] > 0
    assert found["side_by_side"]["processes"] == 2 and found["side_by_side"]["examples_per_second"] > 0
    assert "2 seeds as one batched network" in done.stdout


def test_busy_time_counts_overlapping_kernels_once():
    busy_time = _module().busy_time
    assert busy_time([]) == 0
    assert busy_time([(0, 10), (20, 25)]) == 15
    assert busy_time([(20, 25), (0, 10), (5, 12), (6, 8)]) == 17   # unsorted, nested and overlapping
