"""Exceptions whose messages are meant for a person: they name the file, field or value and what would fix it."""


class KernelInputError(ValueError):
    """A request from TypeScript that the kernel cannot honour (unknown call, bad argument)."""


class DataError(ValueError):
    """A data file that is missing, truncated, corrupt or of the wrong layout. The message names the file."""


class StorageError(ValueError):
    """A file the kernel could not write where it was asked to (a full disk, a quota used up, a read-only or forbidden
    folder). The message names the path and what would fix it; the file's previous content is intact."""
