"""Plain reference implementations, for benchmarks only: what a straightforward PyTorch loop of the recipe costs."""
