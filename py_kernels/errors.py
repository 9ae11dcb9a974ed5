"""Exceptions whose messages are meant for a person: they name the file, field or value and what would fix it."""


class KernelInputError(ValueError):
    """A request from TypeScript that the kernel cannot honour (unknown call, bad argument)."""


class DataError(ValueError):
    """A data file that is missing, truncated, corrupt or of the wrong layout. The message names the file."""
