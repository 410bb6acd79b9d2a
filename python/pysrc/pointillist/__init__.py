"""pointillist: Datashader's API on pointillist's Rust core.

``import pointillist as ds`` runs Datashader code unchanged for what the
core implements (points, and the reductions below); everything else raises
``NotImplementedError`` naming the missing feature. Datashader itself is
never imported.
"""

from __future__ import annotations

from ._native import __version__  # noqa: F401
from .core import Canvas  # noqa: F401
from .reductions import *  # noqa: F401,F403
from .reductions import __all__ as _reductions_all
from . import transfer_functions as tf  # noqa: F401
from . import utils  # noqa: F401

__all__ = ["Canvas", "tf", "utils", *_reductions_all]
