"""Column architectures, one file each; importing a file registers its builder (`_api.register_column`).

A new architecture: a file here with its config dataclass (fields + a `layer_shapes` property), its `Column`
subclass (declaring `input_view`) and its `@register_column` builder; its import below; its tiny case in
py_kernels/tests/test_registry.py.
"""
from . import alexnet  # noqa: F401  registers "alexnet"
from . import conv  # noqa: F401  registers "conv"
from . import fc  # noqa: F401  registers "fc"
