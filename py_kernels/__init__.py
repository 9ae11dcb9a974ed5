"""PyTorch kernels of progressive-ladder. TypeScript calls only `py_kernels.api`; everything else is internal."""
