"""The package's exceptions, in one place: what each means and what it subclasses.

Every public entry point checks its input once, at the door, and raises one of these
with a message in scikit-learn's style: the argument or column, the offending
value(s) and, where there is one, how to fix it. Each class also subclasses the
built-in exception that a caller would have caught before the package spoke
(``ValueError``, ``TypeError``, ``RuntimeError``), so ``except ValueError`` keeps working.

* :class:`DataValidationError` (a ``ValueError``): a frame, array or file breaks the
  contract (missing column, NaN, wrong dtype, out of range).
* :class:`NotFittedError` (a :class:`DataValidationError` and a
  ``sklearn.exceptions.NotFittedError``): a model or transformer is used before ``fit``.
* :class:`InvalidParameterError` (a ``ValueError`` and a ``TypeError``): a constructor
  or configuration argument is invalid (``lr="0.1"``, ``seed=-1``).
* :class:`CheckpointError` (a :class:`DataValidationError` and a ``RuntimeError``): a
  checkpoint file cannot be read, or does not fit the model.
* :class:`NonFiniteLossError` (a ``FloatingPointError``): training produced a NaN or
  infinite loss.
* :class:`DataSourceError` (a ``RuntimeError``): no source could deliver MovieLens-100K.
* :class:`EncoderUnavailableError` (a ``RuntimeError``): no source could provide the
  sentence encoder.

The classes are also importable from the modules that raised them first
(``recfeat_ref._validation.DataValidationError``,
``recfeat_ref.preprocessing.NotFittedError``, ``recfeat_ref.datasets.DataSourceError``,
``recfeat_ref.text.EncoderUnavailableError``).

Examples
--------
>>> from recfeat_ref.baselines import GlobalMean
>>> import pandas as pd
>>> GlobalMean().fit(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1], "rating": [4.0, float("nan")]}))
Traceback (most recent call last):
...
recfeat_ref.exceptions.DataValidationError: train: column 'rating' has 1 missing value(s) at rows [1]; drop or impute them first (see recfeat_ref.preprocessing.clean_interactions)
>>> issubclass(DataValidationError, ValueError), issubclass(InvalidParameterError, TypeError)
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "DataValidationError",
    "NotFittedError",
    "InvalidParameterError",
    "CheckpointError",
    "NonFiniteLossError",
    "DataSourceError",
    "EncoderUnavailableError",
]


class DataValidationError(ValueError):
    """Raised when a data frame, array or file breaks the contract a function needs.

    Subclasses :class:`ValueError` so ``except ValueError`` keeps working. The message
    names where (the frame or argument, the column), what (the offending values and
    their rows) and, where there is one, the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> from recfeat_ref._validation import check_columns
    >>> check_columns(pd.DataFrame({"user_id": [1]}), ["user_id", "item_id"], "train")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.DataValidationError: train: missing column(s) ['item_id']; the frame has ['user_id']
    """


class NotFittedError(DataValidationError, _SklearnNotFittedError):
    """Raised when ``transform``, ``predict`` (or similar) is called before ``fit``.

    It is both a :class:`DataValidationError` (so one ``except DataValidationError``
    catches every data problem of this package) and a
    :class:`sklearn.exceptions.NotFittedError` (so code written for scikit-learn
    estimators keeps working).

    Examples
    --------
    >>> issubclass(NotFittedError, DataValidationError), issubclass(NotFittedError, ValueError)
    (True, True)
    >>> from recfeat_ref.baselines import GlobalMean
    >>> GlobalMean().score_items([1])
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.NotFittedError: GlobalMean is not fitted yet: call fit(train) first
    """


class InvalidParameterError(ValueError, TypeError):
    """Raised when a constructor or configuration argument has a wrong type or value.

    Subclasses both :class:`ValueError` and :class:`TypeError`, like scikit-learn's
    ``InvalidParameterError``: a text ``lr="0.1"`` used to fail with a ``TypeError``
    from a comparison, a negative ``seed`` with a ``ValueError``; code catching either
    keeps working.

    Examples
    --------
    >>> from recfeat_ref.training import TrainConfig
    >>> TrainConfig(lr="0.1")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.InvalidParameterError: lr must be a finite number > 0, got '0.1' (a str); pass a number, e.g. lr=0.001
    """


class CheckpointError(DataValidationError, RuntimeError):
    """Raised when a checkpoint file cannot be read (truncated, not a checkpoint) or does not fit the model.

    The message names the file and what to do. A :class:`DataValidationError` (the file
    breaks the contract) and a :class:`RuntimeError` (what ``torch.load`` raised before).

    Examples
    --------
    >>> issubclass(CheckpointError, DataValidationError), issubclass(CheckpointError, RuntimeError)
    (True, True)
    """


class NonFiniteLossError(FloatingPointError):
    """Raised when training produces a NaN or infinite loss; the message names the epoch (and batch).

    The inputs were checked before training, so the usual causes are a learning rate
    that is too large, a loss fed values outside its domain (``log`` of 0) or
    half-precision overflow. A :class:`FloatingPointError`, as NumPy raises under
    ``np.errstate(all="raise")``.

    Examples
    --------
    >>> issubclass(NonFiniteLossError, ArithmeticError)
    True
    """


class DataSourceError(RuntimeError):
    """No source could deliver MovieLens-100K (unreachable, missing, no cache).

    Attributes
    ----------
    reasons : dict[str, str]
        For each source tried, why it failed.

    Corrupted or unverifiable data raise :class:`DataValidationError` instead.

    Examples
    --------
    >>> err = DataSourceError("no source could deliver ML-100K", reasons={"cache": "no cached copy"})
    >>> isinstance(err, RuntimeError), err.reasons
    (True, {'cache': 'no cached copy'})
    """

    def __init__(self, message: str, reasons: Mapping[str, str] | None = None):
        super().__init__(message)
        self.reasons = dict(reasons or {})


class EncoderUnavailableError(RuntimeError):
    """Neither the offline package nor the hub could provide the sentence encoder.

    Raised by :func:`recfeat_ref.text.load_encoder` when no source works.

    Examples
    --------
    >>> issubclass(EncoderUnavailableError, RuntimeError)
    True
    """
