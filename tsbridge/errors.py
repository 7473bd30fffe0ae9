"""Errors tsbridge raises about files and configs it reads (the data layer's own are in :mod:`tsbridge.data.errors`).

All are :class:`ValueError` subclasses, so ``except ValueError`` catches every bad input, and each message names the
file or config key at fault.
"""


class UnsafeCheckpointError(ValueError):
    """A saved model or checkpoint holds something other than plain tensors and tsbridge configs; it is not loaded."""


class CorruptFileError(ValueError):
    """A file tsbridge wrote is truncated, damaged or inconsistent with its companion file."""


class UnsafeConfigError(ValueError):
    """A config read from a file names a class or function outside tsbridge's allow-list; nothing is built."""
