"""pytest unit tests of the kernels: run from the repository root with /usr/bin/python3 -m pytest py_kernels/tests."""
