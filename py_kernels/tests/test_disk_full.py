"""A torch file written where the disk refuses it (full, over quota, over the file size limit): a StorageError that
names the path, the previous file intact, no temporary file left; never an abort inside torch's C++ writer."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_refused_write_keeps_the_previous_checkpoint_and_names_the_path(tmp_path):
    # A file size limit of 64 KiB (Python ignores SIGXFSZ, so a write past it fails with EFBIG, as one on a full disk
    # fails with ENOSPC): the first, small file fits, the large one does not.
    script = textwrap.dedent(f"""
        import resource, sys, torch
        sys.path.insert(0, {str(ROOT)!r})
        from py_kernels import runs
        from py_kernels.errors import StorageError
        path = {str(tmp_path / "checkpoint.pt")!r}
        runs._save_atomic({{"epoch": 1}}, path)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        try:
            runs._save_atomic({{"epoch": 2, "model": torch.zeros(100_000)}}, path)
        except StorageError as error:
            print(error)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    checkpoint = tmp_path / "checkpoint.pt"
    assert message.startswith(f"cannot write {checkpoint}: the file is too large"), message
    assert "its previous content is intact" in message and f"pladder run --resume {tmp_path}" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]   # no temporary file left
    from py_kernels import safe_load
    assert safe_load.load(str(checkpoint), what="checkpoint", hint="") == {"epoch": 1}
