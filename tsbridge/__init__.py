"""tsbridge: bridged BiLSTM forecasting models with readable past-versus-future weights.

The public entry points are imported lazily so that ``import tsbridge`` stays fast and the
data layer can be used without pulling in Lightning.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Forecaster": "tsbridge.forecaster",
    "compare": "tsbridge.forecaster",
    "Comparison": "tsbridge.forecaster",
    "ForecastModule": "tsbridge.module",
    "BlendWeightMonitor": "tsbridge.callbacks",
    "WindowDataModule": "tsbridge.data",
    "load_dataset": "tsbridge.data",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tsbridge' has no attribute {name!r}")
