r"""Privacy for recommender data: pseudonyms, k-anonymity, DP-SGD and a membership attack.

The source article's FAQ answers "how do we protect user privacy?" with three words:
anonymisation, encryption and differential privacy. This module makes each testable
on MovieLens-100K, in four parts:

1. **Pseudonymisation.** :func:`pseudonymise` replaces an identifier by its keyed
   HMAC-SHA256 (Bellare, Canetti and Krawczyk [1]_); :func:`unkeyed_hash` is the common
   mistake, a plain SHA-256, which :func:`reverse_by_enumeration` undoes by hashing every
   possible identifier.
2. **k-anonymity** (Sweeney [2]_). :func:`k_anonymity` measures the smallest group of
   rows sharing the same quasi-identifiers; :func:`generalise_users` coarsens ML-100K's
   ``age, gender, occupation, zip_code`` (with a little suppression) until every group
   has at least ``k`` users.
3. **Differential privacy** (Dwork and Roth [3]_). :func:`train_dp_sgd` is DP-SGD
   (Abadi et al. [4]_): per-example gradients (:func:`per_example_grads`, with
   ``torch.func``), clipping (:func:`clip_per_example`), Gaussian noise
   (:func:`add_gaussian_noise`) on Poisson-sampled batches. Its privacy loss is counted
   by a Renyi-DP accountant for the sampled Gaussian mechanism (Mironov [5]_; Mironov,
   Talwar and Zhang [6]_): :func:`rdp_sampled_gaussian`, :func:`rdp_to_epsilon`,
   :func:`dp_sgd_epsilon`, :class:`RDPAccountant`.
4. **Membership inference.** :func:`loss_threshold_attack` is the attack of Yeom et al.
   [8]_ (the simplest member of the family of Shokri et al. [7]_): guess "member" when
   the model's loss on a row is low; :func:`dp_membership_bounds` gives the most that
   any attack can achieve against an (epsilon, delta)-DP model.

Nothing here modifies its inputs or touches global random state: functions that draw
random numbers take a ``seed``.

References
----------
.. [1] H. Krawczyk, M. Bellare and R. Canetti, "HMAC: Keyed-Hashing for Message
   Authentication", RFC 2104, 1997.
.. [2] L. Sweeney, "k-anonymity: a model for protecting privacy", International Journal
   of Uncertainty, Fuzziness and Knowledge-Based Systems 10(5), 2002; and "Achieving
   k-anonymity privacy protection using generalization and suppression", same issue.
.. [3] C. Dwork and A. Roth, "The Algorithmic Foundations of Differential Privacy",
   Foundations and Trends in Theoretical Computer Science 9(3-4), 2014.
.. [4] M. Abadi, A. Chu, I. Goodfellow, H. B. McMahan, I. Mironov, K. Talwar and
   L. Zhang, "Deep Learning with Differential Privacy", ACM CCS 2016.
.. [5] I. Mironov, "Renyi Differential Privacy", IEEE CSF 2017.
.. [6] I. Mironov, K. Talwar and L. Zhang, "Renyi Differential Privacy of the Sampled
   Gaussian Mechanism", arXiv:1908.10530, 2019.
.. [7] R. Shokri, M. Stronati, C. Song and V. Shmatikov, "Membership Inference Attacks
   Against Machine Learning Models", IEEE S&P 2017.
.. [8] S. Yeom, I. Giacomelli, M. Fredrikson and S. Jha, "Privacy Risk in Machine
   Learning: Analyzing the Connection to Overfitting", IEEE CSF 2018.
.. [9] B. Balle, G. Barthe, M. Gaboardi, J. Hsu and T. Sato, "Hypothesis Testing
   Interpretations and Renyi Differential Privacy", AISTATS 2020 (the RDP to
   (epsilon, delta) conversion of :func:`rdp_to_epsilon`).
.. [10] P. Kairouz, S. Oh and P. Viswanath, "The Composition Theorem for Differential
   Privacy", ICML 2015 (the hypothesis-testing view behind :func:`dp_membership_bounds`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.special import gammaln, logsumexp
from torch import nn
from tqdm import tqdm

from recfeat_ref._validation import (
    DataValidationError,
    _check_positive,
    _check_positive_int,
    _check_seed,
    _make_config,
    _preview,
    check_columns,
    check_dataframe,
    check_vector,
)
from recfeat_ref.metrics import roc_auc

__all__ = [
    # 1. pseudonymisation
    "pseudonymise",
    "unkeyed_hash",
    "reverse_by_enumeration",
    # 2. k-anonymity
    "KAnonymity",
    "k_anonymity",
    "OCCUPATION_GROUPS",
    "generalise_age",
    "generalise_zip",
    "generalise_occupation",
    "Generalisation",
    "generalise_users",
    # 3. differential privacy
    "per_example_grads",
    "clip_per_example",
    "add_gaussian_noise",
    "DPSGDConfig",
    "DPSGDResult",
    "train_dp_sgd",
    "DEFAULT_ORDERS",
    "rdp_sampled_gaussian",
    "rdp_to_epsilon",
    "dp_sgd_epsilon",
    "RDPAccountant",
    # 4. membership inference
    "per_example_losses",
    "loss_threshold_attack",
    "dp_membership_bounds",
]

# ---------------------------------------------------------------------------
# 1. Pseudonymisation
# ---------------------------------------------------------------------------

#: Shortest HMAC key accepted: 16 bytes (128 bits). RFC 2104 (section 3) advises keys of at
#: least the hash output length (32 bytes for SHA-256); shorter keys weaken the function.
MIN_KEY_BYTES = 16


def _real(value) -> bool:
    """A real number, not a bool (``True`` is no noise multiplier)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_key(key, who: str, allow_none: bool = False) -> bytes | None:
    """The HMAC key as bytes; raise at once (before any id is hashed) naming what is wrong.

    Text is refused rather than encoded silently: a key typed as text has far less
    entropy than its length suggests, and which encoding to use must be the caller's
    choice (``key.encode("utf-8")``), or better a key drawn with ``secrets.token_bytes(32)``.
    """
    if key is None and allow_none:
        return None
    if isinstance(key, str):
        raise TypeError(
            f"{who}: key must be bytes, got a str ({len(key)} characters); encode it explicitly "
            "with key.encode('utf-8'), or better draw a random key with secrets.token_bytes(32)"
        )
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"{who}: key must be bytes (e.g. secrets.token_bytes(32)), got {type(key).__name__}")
    key = bytes(key)
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"{who}: key must have at least {MIN_KEY_BYTES} bytes, got {len(key)}; use secrets.token_bytes(32)"
        )
    return key


def _id_strings(ids) -> tuple[list[str], pd.Index | None]:
    """Identifiers as text (``str(id)``), and the index when ``ids`` is a Series."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be a sequence of identifiers (e.g. a column), got {type(ids).__name__}")
    index = ids.index if isinstance(ids, pd.Series) else None
    values = list(ids)
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and math.isnan(v))]
    if missing:
        raise DataValidationError(f"ids: missing identifiers at positions {_preview(missing)}; drop or fill them first")
    return [str(v) for v in values], index


def _wrap(digests: list[str], index: pd.Index | None):
    if index is not None:
        return pd.Series(digests, index=index, dtype=object)
    return np.asarray(digests, dtype=object)


def pseudonymise(ids, key: bytes):
    r"""Keyed pseudonyms: the HMAC-SHA256 of each identifier, as 64 hex digits.

    .. math:: \mathrm{HMAC}(K, m) = H\bigl((K' \oplus \mathrm{opad}) \,\|\,
              H((K' \oplus \mathrm{ipad}) \,\|\, m)\bigr)

    with :math:`H` = SHA-256, :math:`K'` the key padded to the 64-byte block,
    ``ipad = 0x36..``, ``opad = 0x5c..`` (RFC 2104 [1]_), and :math:`m` the UTF-8 bytes
    of ``str(id)``. The same id and key always give the same pseudonym, so joins across
    tables still work; without the key nobody can compute a pseudonym, so nobody can
    test guesses (compare :func:`unkeyed_hash`). Whoever holds the key can, so the
    output is *pseudonymous*, not anonymous (GDPR, Recital 26): keep the key apart from
    the data and rotate it to unlink old releases.

    Parameters
    ----------
    ids : sequence or pandas.Series of identifiers (anything with a ``str``)
    key : bytes
        The secret, at least 16 bytes; draw it with ``secrets.token_bytes(32)``.
        A ``str`` key raises :class:`TypeError` (no encoding is guessed): pass
        ``key.encode("utf-8")`` if a text key is really meant.

    Returns
    -------
    numpy.ndarray of str (object), or pandas.Series with the input's index

    Raises
    ------
    TypeError
        A key that is not bytes (a ``str`` included).
    ValueError
        A key shorter than 16 bytes.
    DataValidationError
        Missing ids.

    Examples
    --------
    >>> p = pseudonymise([1, 2, 1], key=b"0123456789abcdef")
    >>> len(p[0]), p[0] == p[2], p[0] == p[1]
    (64, True, False)
    """
    key = _check_key(key, "pseudonymise")
    texts, index = _id_strings(ids)
    return _wrap([hmac.new(key, t.encode("utf-8"), hashlib.sha256).hexdigest() for t in texts], index)


def unkeyed_hash(ids):
    """SHA-256 of each identifier, 64 hex digits: a *reversible* pseudonym, shown as a warning.

    Anyone can compute it, so anyone who can list the possible identifiers can
    reverse it (:func:`reverse_by_enumeration`).

    Examples
    --------
    >>> unkeyed_hash(["abc"])[0][:16]  # FIPS 180-2's test vector begins ba7816bf
    'ba7816bf8f01cfea'
    """
    texts, index = _id_strings(ids)
    return _wrap([hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts], index)


def reverse_by_enumeration(hashes, id_space: Iterable, key: bytes | None = None) -> list:
    """Recover identifiers from their hashes by hashing every candidate (a dictionary attack).

    The attack costs one hash per candidate: ML-100K's 943 user ids fall in about a
    millisecond, a million candidates in about a second, all US phone numbers (10^10)
    in hours. Only a secret key stops it: with ``key=None`` (what an outsider has),
    keyed pseudonyms are never matched.

    Parameters
    ----------
    hashes : sequence of str
        Hex digests to reverse (from :func:`unkeyed_hash` or :func:`pseudonymise`).
    id_space : iterable
        Every candidate identifier (``range(1, 10**6)``, say); read once.
    key : bytes, optional
        None: try plain SHA-256 (what anyone can do). A key: try HMAC with it (what the
        key holder can do); checked as in :func:`pseudonymise` (bytes, at least 16).

    Returns
    -------
    list
        For each hash, the candidate that produces it, or None when none does.

    Examples
    --------
    >>> reverse_by_enumeration(unkeyed_hash([7, 42]), range(100))
    [7, 42]
    >>> reverse_by_enumeration(pseudonymise([7], key=b"k" * 16), range(100))
    [None]
    """
    key = _check_key(key, "reverse_by_enumeration", allow_none=True)
    if isinstance(hashes, (str, bytes)) or not isinstance(hashes, Iterable):
        raise TypeError(f"hashes must be a sequence of hex digests, got {type(hashes).__name__}")
    targets = {str(h): None for h in hashes}
    found: dict[str, object] = {}
    for candidate in id_space:
        data = str(candidate).encode("utf-8")
        digest = (
            hashlib.sha256(data).hexdigest() if key is None else hmac.new(key, data, hashlib.sha256).hexdigest()
        )
        if digest in targets and digest not in found:
            found[digest] = candidate
            if len(found) == len(targets):
                break
    return [found.get(str(h)) for h in hashes]


# ---------------------------------------------------------------------------
# 2. k-anonymity
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KAnonymity:
    """What :func:`k_anonymity` measures.

    Attributes
    ----------
    k : int
        The smallest equivalence-class size: every row shares its quasi-identifiers
        with at least ``k - 1`` others. 0 for an empty table.
    class_sizes : pandas.Series
        Size of every equivalence class, indexed by the quasi-identifier values,
        largest first.

    Examples
    --------
    >>> r = k_anonymity(pd.DataFrame({"age": [30, 30, 41], "zip": ["100", "100", "200"]}), ["age", "zip"])
    >>> type(r).__name__, r.k, r.class_sizes.tolist()
    ('KAnonymity', 1, [2, 1])
    """

    k: int
    class_sizes: pd.Series

    @property
    def n_classes(self) -> int:
        return len(self.class_sizes)

    def distribution(self) -> pd.Series:
        """Number of *rows* whose class has each size (index: class size, ascending)."""
        rows = self.class_sizes.value_counts() * self.class_sizes.value_counts().index
        return rows.sort_index().rename("rows")

    def rows_below(self, k: int) -> int:
        """How many rows sit in classes smaller than ``k`` (those that break k-anonymity)."""
        return int(self.class_sizes[self.class_sizes < k].sum())


def k_anonymity(df: pd.DataFrame, columns: Sequence[str]) -> KAnonymity:
    r"""k-anonymity of a table with respect to its quasi-identifiers (Sweeney [2]_).

    Rows with equal values in every column of ``columns`` form an *equivalence class*;
    the table is k-anonymous when every class has at least k rows:

    .. math:: k = \min_{c \in \text{classes}} |c|

    A missing value counts as a value of its own.

    Parameters
    ----------
    df : pandas.DataFrame, one row per person
    columns : sequence of str
        The quasi-identifiers: attributes an attacker can learn elsewhere (age, gender,
        zip code, ...).

    Returns
    -------
    KAnonymity

    Examples
    --------
    >>> df = pd.DataFrame({"age": [30, 30, 30, 41], "zip": ["100", "100", "100", "200"]})
    >>> r = k_anonymity(df, ["age", "zip"])
    >>> r.k, r.n_classes, r.distribution().to_dict()
    (1, 2, {1: 1, 3: 3})
    """
    check_dataframe(df, "k_anonymity")
    columns = list(columns)
    if not columns:
        raise ValueError("columns must name at least one quasi-identifier")
    check_columns(df, columns, "k_anonymity")
    sizes = df.groupby(columns, dropna=False, sort=True).size().sort_values(ascending=False, kind="stable")
    return KAnonymity(int(sizes.min()), sizes.rename("size"))


#: ML-100K's 21 occupations in 8 groups: the middle level of the occupation hierarchy.
#: Grouped by kind of work; "student" (196 users) and "other" (105) are large enough alone.
OCCUPATION_GROUPS: dict[str, str] = {
    "student": "student",
    "educator": "education", "librarian": "education",
    "engineer": "technical", "programmer": "technical", "scientist": "technical", "technician": "technical",
    "administrator": "business", "executive": "business", "marketing": "business", "salesman": "business",
    "doctor": "health/law", "healthcare": "health/law", "lawyer": "health/law",
    "artist": "arts/media", "entertainment": "arts/media", "writer": "arts/media",
    "homemaker": "not working", "none": "not working", "retired": "not working",
    "other": "other",
}  # fmt: skip

#: The top of every hierarchy: the value is withheld.
SUPPRESSED = "*"

#: Band widths in years of the age hierarchy, level by level (0 = exact age, last = "*").
AGE_WIDTHS: tuple[int | None, ...] = (1, 5, 10, 20, None)
#: Characters of the zip code kept at each level (5 = exact, 0 = "*").
ZIP_KEEP: tuple[int, ...] = (5, 3, 2, 1, 0)


def generalise_age(age, level: int) -> pd.Series:
    """Age -> a band of ``AGE_WIDTHS[level]`` years, as text (``"20-29"``); the top level is ``"*"``.

    Examples
    --------
    >>> generalise_age([19, 20, 29, 67], 2).tolist()
    ['10-19', '20-29', '20-29', '60-69']
    >>> generalise_age([19], 0).tolist(), generalise_age([19], 4).tolist()
    (['19'], ['*'])
    """
    s = age if isinstance(age, pd.Series) else pd.Series(age)
    if not 0 <= level < len(AGE_WIDTHS):
        raise ValueError(f"age level must be in 0..{len(AGE_WIDTHS) - 1}, got {level}")
    width = AGE_WIDTHS[level]
    values = pd.to_numeric(s, errors="coerce")
    if values.isna().any():
        raise DataValidationError(f"age: non-numeric or missing ages {_preview(pd.unique(s[values.isna()]))}")
    if width is None:
        return pd.Series(SUPPRESSED, index=s.index, dtype=object)
    lo = (values.astype("int64") // width) * width
    text = lo.astype(str) if width == 1 else lo.astype(str) + "-" + (lo + width - 1).astype(str)
    return text.astype(object)


def generalise_zip(zip_code, level: int) -> pd.Series:
    """Zip code -> its first ``ZIP_KEEP[level]`` characters, the rest masked (``"941**"``).

    Examples
    --------
    >>> generalise_zip(["94043", "T8H1N"], 1).tolist()
    ['940**', 'T8H**']
    """
    s = (zip_code if isinstance(zip_code, pd.Series) else pd.Series(zip_code)).astype(str)
    if not 0 <= level < len(ZIP_KEEP):
        raise ValueError(f"zip level must be in 0..{len(ZIP_KEEP) - 1}, got {level}")
    keep = ZIP_KEEP[level]
    if keep == 0:
        return pd.Series(SUPPRESSED, index=s.index, dtype=object)
    return (s.str[:keep] + "*" * (ZIP_KEEP[0] - keep)).astype(object)


def generalise_occupation(occupation, level: int) -> pd.Series:
    """Occupation -> itself (level 0), its :data:`OCCUPATION_GROUPS` group (1), or ``"*"`` (2).

    Examples
    --------
    >>> generalise_occupation(["writer", "artist", "student"], 1).tolist()
    ['arts/media', 'arts/media', 'student']
    """
    s = occupation if isinstance(occupation, pd.Series) else pd.Series(occupation)
    if level == 0:
        return s.astype(object)
    if level == 1:
        unknown = sorted(set(s) - set(OCCUPATION_GROUPS))
        if unknown:
            raise DataValidationError(f"occupation: no group for {_preview(unknown)}; extend OCCUPATION_GROUPS")
        return s.map(OCCUPATION_GROUPS).astype(object)
    if level == 2:
        return pd.Series(SUPPRESSED, index=s.index, dtype=object)
    raise ValueError(f"occupation level must be in 0..2, got {level}")


def _generalise_gender(gender, level: int) -> pd.Series:
    if level == 0:
        return gender.astype(object)
    if level == 1:
        return pd.Series(SUPPRESSED, index=gender.index, dtype=object)
    raise ValueError(f"gender level must be in 0..1, got {level}")


#: column -> (generalising function, number of levels). The lattice searched by
#: :func:`generalise_users` has 5 * 2 * 3 * 5 = 150 nodes.
_HIERARCHIES: dict[str, tuple[Callable, int]] = {
    "age": (generalise_age, len(AGE_WIDTHS)),
    "gender": (_generalise_gender, 2),
    "occupation": (generalise_occupation, 3),
    "zip_code": (generalise_zip, len(ZIP_KEEP)),
}
QUASI_IDENTIFIERS: tuple[str, ...] = tuple(_HIERARCHIES)


@dataclass(frozen=True, eq=False)
class Generalisation:
    """What :func:`generalise_users` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        The users with the quasi-identifiers generalised (text; ``"*"`` = withheld);
        suppressed rows have ``"*"`` in every quasi-identifier. Other columns unchanged.
    levels : dict of str to int
        Chosen level per quasi-identifier (0 = unchanged).
    suppressed : int
        Rows whose quasi-identifiers were all withheld.
    k : int
        The k-anonymity of ``table`` (recomputed, >= the requested k).
    loss : float
        Information loss in [0, 1] (see :func:`generalise_users`).
    candidates : pandas.DataFrame
        Every lattice node with its k before suppression, rows suppressed, loss and
        whether it was admissible: the search, for inspection.

    Examples
    --------
    >>> users = pd.DataFrame({"age": [21, 23, 24, 22], "gender": ["M", "F", "M", "F"],
    ...                       "occupation": ["student"] * 4, "zip_code": ["94043", "94041", "94301", "94040"]})
    >>> g = generalise_users(users, k=2, max_suppression=0.0)
    >>> g.k, g.suppressed, g.table["zip_code"].tolist()
    (2, 0, ['94***', '94***', '94***', '94***'])
    """

    table: pd.DataFrame
    levels: dict[str, int]
    suppressed: int
    k: int
    loss: float
    candidates: pd.DataFrame = field(repr=False)


def _apply_levels(users: pd.DataFrame, levels: Mapping[str, int]) -> pd.DataFrame:
    out = users.copy()
    for col, level in levels.items():
        fn = _HIERARCHIES[col][0]
        out[col] = fn(users[col], level).to_numpy()
    return out


def generalise_users(users: pd.DataFrame, k: int = 5, max_suppression: float = 0.05) -> Generalisation:
    r"""Make ML-100K's user table k-anonymous by full-domain generalisation and suppression.

    Each quasi-identifier has a hierarchy of levels, from exact to withheld:
    ``age`` (exact, 5-, 10-, 20-year bands, ``*``), ``gender`` (exact, ``*``),
    ``occupation`` (exact, :data:`OCCUPATION_GROUPS`, ``*``), ``zip_code`` (5, 3, 2, 1
    leading characters, ``*``). A choice of one level per column is a node of the
    generalisation lattice (Sweeney [2]_; Samarati 2001). For every node the rows of
    classes smaller than ``k`` are *suppressed* (all four values withheld); the node is
    admissible if at most ``max_suppression`` of the rows are, and the result is
    k-anonymous. Among admissible nodes the one with the least information loss wins:

    .. math:: \text{loss} = \frac{1}{n A} \sum_{\text{rows } r} \sum_{a=1}^{A}
              \begin{cases} 1 & r \text{ suppressed} \\ h_a / H_a & \text{otherwise}\end{cases}

    with :math:`h_a` the level of column :math:`a` and :math:`H_a` its top level
    (Sweeney's *precision* metric, extended to suppressed rows). Ties go to fewer
    suppressed rows, then to the first node in lattice order. The search is exhaustive
    (150 nodes), so the optimum is exact.

    Parameters
    ----------
    users : pandas.DataFrame
        Columns ``age, gender, occupation, zip_code`` (plus any others, kept as they are).
    k : int, default=5
        The k to reach. 5: a small value often used in practice; larger k costs more
        detail (the chapter's exercise tries 10 and 20).
    max_suppression : float, default=0.05
        Largest fraction of rows that may be suppressed. 5%: withholding a few outliers
        (a 73-year-old lawyer) costs less than coarsening everyone for their sake, the
        reason Sweeney's Datafly allows suppression.

    Returns
    -------
    Generalisation

    Raises
    ------
    DataValidationError
        A missing column; no node reaches ``k`` (only when ``len(users) < k``).

    Examples
    --------
    >>> users = pd.DataFrame({"age": [21, 23, 24, 22, 38, 39], "gender": ["M", "F", "M", "F", "M", "M"],
    ...                       "occupation": ["student"] * 4 + ["writer", "artist"],
    ...                       "zip_code": ["94043", "94041", "94301", "94040", "10011", "10012"]})
    >>> g = generalise_users(users, k=2, max_suppression=0.0)
    >>> g.levels, g.k
    ({'age': 1, 'gender': 0, 'occupation': 1, 'zip_code': 2}, 2)
    """
    check_dataframe(users, "generalise_users")
    check_columns(users, QUASI_IDENTIFIERS, "users")
    _check_positive_int("k", k)
    if not (_real(max_suppression) and 0 <= max_suppression < 1):
        raise ValueError(f"max_suppression must be a fraction in [0, 1), got {max_suppression!r}")
    if len(users) < k:
        raise DataValidationError(f"generalise_users: {len(users)} rows cannot be {k}-anonymous")
    n, cols = len(users), list(QUASI_IDENTIFIERS)
    heights = {c: _HIERARCHIES[c][1] - 1 for c in cols}
    # every column at every level, as integer codes, computed once: (column, level) -> (codes, n_values)
    codes = {}
    for c in cols:
        for h in range(heights[c] + 1):
            values, uniques = pd.factorize(_HIERARCHIES[c][0](users[c], h))
            codes[(c, h)] = (values.astype(np.int64), len(uniques))
    rows, best = [], None
    for node in itertools.product(*(range(heights[c] + 1) for c in cols)):
        key = np.zeros(n, dtype=np.int64)  # one integer per combination of values: the class
        for c, h in zip(cols, node):
            values, width = codes[(c, h)]
            key = key * width + values
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        size = counts[inverse]  # (n,) size of each row's class
        small = size < k
        n_sup = int(small.sum())
        # suppressed rows form one class of their own ("*" everywhere): below a non-top node no
        # kept row is "*" in every column; at the top node nothing is small (n >= k)
        k_after = min(([int(size[~small].min())] if n_sup < n else []) + ([n_sup] if n_sup else []))
        precision = sum(h / heights[c] for c, h in zip(cols, node)) / len(cols)
        loss = (n_sup + (n - n_sup) * precision) / n
        ok = n_sup <= max_suppression * n and k_after >= k
        rows.append({**dict(zip(cols, node)), "k_before": int(size.min()), "suppressed": n_sup,
                     "k": k_after, "loss": loss, "admissible": ok})  # fmt: skip
        if ok and (best is None or (loss, n_sup) < (best[0], best[1])):
            best = (loss, n_sup, node)
    candidates = pd.DataFrame(rows)
    if best is None:  # pragma: no cover - the all-"*" node is always admissible when n >= k
        raise DataValidationError(f"generalise_users: no generalisation reaches k={k}")
    loss, n_sup, node = best
    levels = dict(zip(cols, node))
    table = _apply_levels(users, levels)
    size = table.groupby(cols, sort=False)[cols[0]].transform("size").to_numpy()
    table.loc[size < k, cols] = SUPPRESSED
    return Generalisation(table, levels, n_sup, k_anonymity(table, cols).k, float(loss), candidates)


# ---------------------------------------------------------------------------
# 3. Differential privacy: DP-SGD
# ---------------------------------------------------------------------------


def _check_sigma(value, who: str, name: str = "noise_multiplier") -> float:
    """sigma: a finite number >= 0 (NaN would make NaN weights and an infinite epsilon)."""
    if not (_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError(
            f"{who}: {name} (sigma, the noise std in units of the clipping norm) must be a finite "
            f"number >= 0, got {value!r}"
        )
    return float(value)


def _check_rate(value, who: str, name: str = "sample_rate") -> float:
    """q: a probability in [0, 1]."""
    if not (_real(value) and 0 <= value <= 1):  # NaN fails the comparison
        raise ValueError(f"{who}: {name} (q, the probability that a row joins a batch) must be in [0, 1], got {value!r}")
    return float(value)


def _check_delta(value, who: str, low_closed: bool = False) -> float:
    """delta: in (0, 1) (or [0, 1) where 0 is meaningful)."""
    ok = _real(value) and (0 <= value < 1 if low_closed else 0 < value < 1)
    if not ok:
        interval = "[0, 1)" if low_closed else "(0, 1)"
        raise ValueError(f"{who}: delta must be a number in {interval}, e.g. 1e-5 (below 1/n), got {value!r}")
    return float(value)


def per_example_grads(
    module: nn.Module, loss_fn: Callable, inputs: Sequence[torch.Tensor], y: torch.Tensor
) -> dict[str, torch.Tensor]:
    r"""Gradient of each example's loss, :math:`g_i = \nabla_\theta \ell(f_\theta(x_i), y_i)`.

    Computed with ``torch.func``: ``vmap`` maps ``grad`` of a one-example loss over the
    batch, so the B gradients come from one vectorised pass instead of B backward passes.
    The module must not branch on tensor values in ``forward`` (validate inputs before).

    Parameters
    ----------
    module : torch.nn.Module
        Called as ``module(*inputs)`` on a batch; returns (B,) or (B, ...) outputs.
    loss_fn : callable
        ``loss_fn(output, target)`` -> scalar, with mean reduction (one example at a time).
    inputs : sequence of tensors, each (B, ...)
    y : tensor (B, ...)

    Returns
    -------
    dict of str to tensor
        For every trainable parameter of shape ``S``, a tensor ``(B, *S)``.

    Examples
    --------
    >>> lin = nn.Linear(3, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = lin.weight.fill_(0.0)
    >>> g = per_example_grads(lin, nn.MSELoss(), [torch.eye(3)[:2]], torch.ones(2, 1))
    >>> g["weight"].shape, g["weight"][:, 0].tolist()  # d/dw (w.x - 1)^2 = -2x
    (torch.Size([2, 1, 3]), [[-2.0, 0.0, 0.0], [0.0, -2.0, 0.0]])
    """
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in module.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in module.named_buffers()}

    def one_loss(p, *example):
        *xs, target = example
        out = functional_call(module, (p, buffers), tuple(x.unsqueeze(0) for x in xs))  # batch of one
        return loss_fn(out, target.unsqueeze(0))

    in_dims = (None,) + (0,) * (len(inputs) + 1)
    return vmap(grad(one_loss), in_dims=in_dims)(params, *inputs, y)


def clip_per_example(grads: Mapping[str, torch.Tensor], max_norm: float) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    r"""Scale each example's whole gradient to an L2 norm of at most ``max_norm`` (C).

    .. math:: \bar g_i = g_i \cdot \min\Bigl(1, \frac{C}{\lVert g_i \rVert_2 + 10^{-6}}\Bigr)

    (Abadi et al. [4]_, algorithm 1; the :math:`10^{-6}` guards against division by zero,
    as in Opacus.) The norm is taken over *all* parameters together, so every example's
    influence on the summed gradient is bounded by C: the sensitivity DP needs.

    Returns
    -------
    (clipped, norms) : dict of tensors (B, ...), tensor (B,) of the norms before clipping

    Examples
    --------
    >>> clipped, norms = clip_per_example({"w": torch.tensor([[3.0, 4.0], [0.3, 0.4]])}, max_norm=1.0)
    >>> norms.tolist(), [round(v, 4) for v in clipped["w"][0].tolist()], clipped["w"][1].tolist()
    ([5.0, 0.5], [0.6, 0.8], [0.30000001192092896, 0.4000000059604645])
    """
    _check_positive("max_norm", max_norm)
    flat = [g.reshape(g.shape[0], -1) for g in grads.values()]  # [(B, P_k)]
    norms = torch.cat(flat, dim=1).norm(dim=1)  # (B,)
    factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)  # (B,)
    clipped = {k: g * factor.view(-1, *([1] * (g.dim() - 1))) for k, g in grads.items()}
    return clipped, norms


def add_gaussian_noise(
    summed: Mapping[str, torch.Tensor], noise_multiplier: float, max_norm: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    r"""The Gaussian mechanism on a sum of clipped gradients: add :math:`\mathcal N(0, \sigma^2 C^2 I)`.

    ``noise_multiplier`` (:math:`\sigma`) and ``max_norm`` (C) must be finite numbers
    >= 0, and ``generator`` a :class:`torch.Generator`; anything else raises at once
    (a NaN sigma would otherwise turn every weight into NaN).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> noisy = add_gaussian_noise({"w": torch.zeros(100_000)}, 2.0, 0.5, g)
    >>> round(float(noisy["w"].std()), 2)  # sigma * C
    1.0
    """
    noise_multiplier = _check_sigma(noise_multiplier, "add_gaussian_noise")
    if not (_real(max_norm) and math.isfinite(max_norm) and max_norm >= 0):
        raise ValueError(f"add_gaussian_noise: max_norm (C, the clipping norm) must be a finite number >= 0, got {max_norm!r}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"add_gaussian_noise: generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), "
            f"got {type(generator).__name__}"
        )
    std = noise_multiplier * max_norm
    out = {}
    for k, s in summed.items():
        noise = torch.randn(s.shape, generator=generator, dtype=s.dtype, device=generator.device)
        out[k] = s + std * noise.to(s.device)
    return out


@dataclass(frozen=True)
class DPSGDConfig:
    """Settings of :func:`train_dp_sgd`; every default says why.

    Attributes
    ----------
    noise_multiplier : float
        sigma, noise std in units of C. 1.0: epsilon about 1.8 with the other defaults, a
        common target; the chapter sweeps it. 0 with ``max_grad_norm=None`` is plain (non-private) SGD.
    max_grad_norm : float or None
        C. 1.0, chosen among {0.3, 1, 3} at sigma = 1 on the validation AUC of the ML-100K
        CTR logistic regression (0.713, 0.758, 0.734): it clips about half of the
        per-example gradients, the regime Abadi et al. recommend (C = 3 clips none and
        adds three times more noise; C = 0.3 distorts most gradients).
        None: no clipping (only with sigma = 0).
    sample_rate : float
        q, the probability that an example joins a batch (Poisson sampling, which the
        accountant assumes). 0.0128 = 1024 / 80,000, batches of about 1024 rows.
    epochs : int
        4, a compromise: each epoch is round(1 / q) = 78 steps and epsilon grows with
        them. At sigma = 1, 2, 3, 4 and 6 epochs give validation AUC 0.744, 0.752, 0.758,
        0.764 for epsilon 1.49, 1.63, 1.77, 2.03 (and the CPU time grows linearly).
    lr : float
        3e-2, chosen among {1e-2, 3e-2, 1e-1} at sigma = 1 on the validation AUC
        (0.735, 0.758, 0.745).
    optimizer : str
        ``"adam"`` (Kingma and Ba) or ``"sgd"``. Adam: with one weight per user and per
        film, plain SGD needs a step large enough for rare ids that it diverges on the
        common ones (validation AUC 0.70 at best); Adam rescales per weight. Any
        optimizer is post-processing of the noisy gradient, so the privacy is the same.
    delta : float
        1e-5 < 1/n for the 80,000 training rows (Dwork and Roth: delta much smaller than
        1/n, else releasing one random row would be "private").
    seed : int
        0: batches and noise are reproducible.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: torch threads on the CPU during training (restored afterwards), as
        :class:`~recfeat_ref.training.TrainConfig`.

    Examples
    --------
    >>> cfg = DPSGDConfig(noise_multiplier=2.0)
    >>> cfg.noise_multiplier, cfg.max_grad_norm, cfg.epochs
    (2.0, 1.0, 4)
    >>> DPSGDConfig(max_grad_norm=None)
    Traceback (most recent call last):
    ...
    ValueError: max_grad_norm=None (no clipping) is only allowed with noise_multiplier=0
    """

    noise_multiplier: float = 1.0
    max_grad_norm: float | None = 1.0
    sample_rate: float = 0.0128
    epochs: int = 4
    lr: float = 3e-2
    optimizer: str = "adam"
    delta: float = 1e-5
    seed: int = 0
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        if not (_real(self.noise_multiplier) and 0 <= self.noise_multiplier < math.inf):
            raise ValueError(f"noise_multiplier must be a finite number >= 0, got {self.noise_multiplier!r}")
        if self.max_grad_norm is None:
            if self.noise_multiplier > 0:
                raise ValueError("max_grad_norm=None (no clipping) is only allowed with noise_multiplier=0")
        else:
            _check_positive("max_grad_norm", self.max_grad_norm)
        if not (_real(self.sample_rate) and 0 < self.sample_rate <= 1):
            raise ValueError(f"sample_rate must be in (0, 1], got {self.sample_rate!r}")
        _check_positive_int("epochs", self.epochs)
        _check_positive("lr", self.lr)
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if not (isinstance(self.delta, float) and 0 < self.delta < 1):
            raise ValueError(f"delta must be a float in (0, 1), got {self.delta!r}")
        _check_seed(self.seed)
        if self.cpu_threads is not None:
            _check_positive_int("cpu_threads", self.cpu_threads)


@dataclass(frozen=True, eq=False)
class DPSGDResult:
    """What :func:`train_dp_sgd` returns (the module itself is trained in place).

    Attributes
    ----------
    history : pandas.DataFrame
        One row per epoch: ``epoch, train_loss`` (mean loss on the sampled batches, before
        the step), ``clipped_fraction`` (share of per-example gradients clipped),
        ``epsilon`` (spent so far at ``delta``), ``seconds``.
    epsilon : float
        Privacy spent at the end at ``config.delta`` (inf when sigma = 0).
    steps : int
        Noisy steps taken.
    config : DPSGDConfig

    Examples
    --------
    >>> x = torch.ones(8, 2); y = torch.ones(8)
    >>> res = train_dp_sgd(nn.Linear(2, 1), lambda out, t: (out.squeeze(-1) - t).pow(2).mean(), [x], y,
    ...                    sample_rate=0.5, epochs=1, delta=1e-3, progress=False)
    >>> res.steps, res.history["epoch"].tolist(), res.config.sample_rate
    (2, [1], 0.5)
    """

    history: pd.DataFrame
    epsilon: float
    steps: int
    config: DPSGDConfig


def train_dp_sgd(
    module: nn.Module,
    loss_fn: Callable,
    inputs: Sequence[torch.Tensor],
    y: torch.Tensor,
    config: DPSGDConfig | None = None,
    **params,
) -> DPSGDResult:
    r"""Train ``module`` in place with DP-SGD (Abadi et al. [4]_, algorithm 1).

    Each step draws a batch :math:`B` by Poisson sampling (each of the N rows joins with
    probability q), then

    .. math:: \tilde g = \frac{1}{qN}\Bigl(\sum_{i \in B} \bar g_i
              + \mathcal N(0, \sigma^2 C^2 I)\Bigr), \qquad
              \theta \leftarrow \theta - \eta\, \tilde g

    with :math:`\bar g_i` the per-example gradient clipped to norm C
    (:func:`clip_per_example`). Dividing by the *expected* batch size :math:`qN` rather
    than by :math:`|B|` keeps the batch size itself from leaking (Opacus does the same).
    The privacy spent after T steps is :func:`dp_sgd_epsilon` (q, sigma, T, delta).
    Example-level privacy: one *row* (here one rating) is protected; a user with m
    ratings is protected only as a group of m rows, with a weaker guarantee.

    Parameters
    ----------
    module : torch.nn.Module
        Called as ``module(*inputs)``; must not branch on tensor values (see
        :func:`per_example_grads`). For :class:`recfeat_ref.neural.LogisticRegression`
        pass its ``linear`` part (same parameters, without the input checks).
    loss_fn : callable
        Per-example loss with mean reduction, e.g. ``nn.BCEWithLogitsLoss()``.
    inputs : sequence of tensors (N, ...); y : tensor (N, ...)
    config : DPSGDConfig, optional; ``**params`` override its fields.

    Returns
    -------
    DPSGDResult

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator ...>
    >>> x = torch.randn(200, 2); y = (x[:, 0] > 0).float()
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    >>> res = train_dp_sgd(model, nn.BCEWithLogitsLoss(), [x], y, noise_multiplier=1.0,
    ...                    sample_rate=0.25, epochs=5, lr=1.0, delta=1e-3, progress=False)
    >>> res.steps, round(res.epsilon, 2)
    (20, 6.82)
    """
    config = _make_config(DPSGDConfig, config, params)
    n = len(y)
    if any(len(x) != n for x in inputs):
        raise ValueError(f"inputs and y must have the same length, got {[len(x) for x in inputs]} and {n}")
    q, sigma, C = config.sample_rate, config.noise_multiplier, config.max_grad_norm
    steps_per_epoch = max(1, round(1 / q))
    expected = q * n
    device = next(module.parameters()).device  # the data follows the module (a GPU, say)
    inputs, y = tuple(x.to(device) for x in inputs), y.to(device)
    gen = torch.Generator().manual_seed(config.seed)  # sampling and noise, on the CPU
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    accountant = RDPAccountant()
    opt_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[config.optimizer]
    optimizer = opt_class(list(params.values()), lr=config.lr)
    old_threads = torch.get_num_threads()
    if config.cpu_threads is not None and device.type == "cpu":
        torch.set_num_threads(config.cpu_threads)
    rows = []
    try:
        for epoch in tqdm(range(1, config.epochs + 1), disable=not config.progress, desc="DP-SGD"):
            start, losses, clipped, seen = time.perf_counter(), [], 0, 0
            for _ in range(steps_per_epoch):
                mask = torch.rand(n, generator=gen) < q  # Poisson sampling
                idx = mask.nonzero().squeeze(1).to(device)
                if len(idx) > 0:
                    batch = [x[idx] for x in inputs]
                    grads = per_example_grads(module, loss_fn, batch, y[idx])
                    if C is not None:
                        grads, norms = clip_per_example(grads, C)
                        clipped += int((norms > C).sum())
                    summed = {k: g.sum(dim=0) for k, g in grads.items()}
                    with torch.no_grad():
                        losses.append(float(loss_fn(module(*batch), y[idx])))
                else:
                    summed = {k: torch.zeros_like(p) for k, p in params.items()}
                seen += len(idx)
                noisy = add_gaussian_noise(summed, sigma, C if C is not None else 0.0, gen) if sigma > 0 else summed
                for k, p in params.items():
                    p.grad = noisy[k] / expected  # the noisy average gradient
                optimizer.step()  # post-processing: no further privacy cost
                if sigma > 0:
                    accountant.step(noise_multiplier=sigma, sample_rate=q)
            eps = accountant.get_epsilon(config.delta) if sigma > 0 else math.inf
            rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else math.nan,
                         "clipped_fraction": clipped / max(seen, 1), "epsilon": eps,
                         "seconds": time.perf_counter() - start})  # fmt: skip
    finally:
        torch.set_num_threads(old_threads)
    history = pd.DataFrame(rows)
    return DPSGDResult(history, float(history["epsilon"].iloc[-1]), steps_per_epoch * config.epochs, config)


# --- the accountant ---------------------------------------------------------------

#: RDP orders searched: the integers 2..256. Integers make the sampled-Gaussian formula a
#: finite sum; 256 reaches the optimal order for every epsilon >= 0.1 at delta = 1e-5.
DEFAULT_ORDERS: tuple[int, ...] = tuple(range(2, 257))


def _check_orders(orders) -> np.ndarray:
    a = np.atleast_1d(np.asarray(orders))
    if a.size == 0 or not np.issubdtype(a.dtype, np.integer) or (a < 2).any():
        raise ValueError(f"orders must be integers >= 2, got {_preview(a.tolist())}")
    return a.astype(np.int64)


def rdp_sampled_gaussian(q: float, noise_multiplier: float, orders: Sequence[int] = DEFAULT_ORDERS) -> np.ndarray:
    r"""RDP of one step of the sampled Gaussian mechanism, at integer orders alpha.

    For Poisson sampling with rate q and noise :math:`\sigma` (sensitivity 1), Mironov,
    Talwar and Zhang [6]_ (section 3.3) give, for integer :math:`\alpha \ge 2`,

    .. math:: \varepsilon(\alpha) = \frac{1}{\alpha - 1} \log \sum_{k=0}^{\alpha}
              \binom{\alpha}{k} (1-q)^{\alpha-k} q^k
              \exp\Bigl(\frac{k^2 - k}{2\sigma^2}\Bigr)

    computed in log space (``logsumexp``). With q = 1 it is the Gaussian mechanism's
    :math:`\alpha / (2\sigma^2)` (Mironov [5]_, proposition 7). RDP adds up over steps.

    ``q`` must lie in [0, 1] and ``noise_multiplier`` be a finite number >= 0 (0 means no
    noise: infinite RDP); NaN, negative or non-numeric values raise :class:`ValueError`.

    Returns
    -------
    numpy.ndarray (len(orders),): epsilon(alpha) for one step

    Examples
    --------
    >>> rdp_sampled_gaussian(1.0, 2.0, [2, 4]).tolist()  # alpha / (2 sigma^2)
    [0.25, 0.5]
    >>> bool(rdp_sampled_gaussian(0.01, 1.0, [2])[0] < 0.01 * 0.25)  # subsampling amplifies
    True
    """
    a = _check_orders(orders)
    q = _check_rate(q, "rdp_sampled_gaussian", "q")
    noise_multiplier = _check_sigma(noise_multiplier, "rdp_sampled_gaussian")
    if q == 0:
        return np.zeros(len(a))
    if noise_multiplier == 0:
        return np.full(len(a), np.inf)
    if q == 1:
        return a / (2 * noise_multiplier**2)
    out = np.empty(len(a))
    for j, alpha in enumerate(a):
        k = np.arange(alpha + 1)
        log_binom = gammaln(alpha + 1) - gammaln(k + 1) - gammaln(alpha - k + 1)
        terms = log_binom + k * math.log(q) + (alpha - k) * math.log1p(-q) + (k * k - k) / (2 * noise_multiplier**2)
        out[j] = logsumexp(terms) / (alpha - 1)
    return out


def rdp_to_epsilon(rdp, orders: Sequence[int], delta: float, method: str = "balle") -> tuple[float, int]:
    r"""Convert RDP at several orders into (epsilon, delta)-DP; the best order wins.

    * ``"mironov"`` (Mironov [5]_, proposition 3):
      :math:`\varepsilon = \varepsilon(\alpha) + \frac{\log(1/\delta)}{\alpha - 1}`.
    * ``"balle"`` (Balle et al. [9]_, theorem 21; what Opacus uses), tighter:
      :math:`\varepsilon = \varepsilon(\alpha) + \log\frac{\alpha-1}{\alpha}
      - \frac{\log\delta + \log\alpha}{\alpha - 1}`.

    Returns
    -------
    (epsilon, order) : the smallest epsilon over ``orders`` and the order reaching it

    Examples
    --------
    >>> eps, order = rdp_to_epsilon([0.5, 1.0], [2, 4], delta=1e-5, method="mironov")
    >>> round(eps, 3), order
    (4.838, 4)
    """
    a = _check_orders(orders).astype(float)
    r = np.atleast_1d(np.asarray(rdp, dtype=float))
    if r.shape != a.shape:
        raise ValueError(f"rdp and orders must have the same length, got {len(r)} and {len(a)}")
    bad = np.isnan(r) | (r < 0)
    if bad.any():
        raise ValueError(
            f"rdp_to_epsilon: rdp must be >= 0 (inf allowed), got {_preview(r[bad].tolist())} at orders "
            f"{_preview(a[bad].astype(int).tolist())}; check the noise multiplier and sampling rate it came from"
        )
    delta = _check_delta(delta, "rdp_to_epsilon")
    if method == "mironov":
        eps = r + math.log(1 / delta) / (a - 1)
    elif method == "balle":
        eps = r + np.log((a - 1) / a) - (math.log(delta) + np.log(a)) / (a - 1)
    else:
        raise ValueError(f"method must be 'balle' or 'mironov', got {method!r}")
    eps = np.where(np.isnan(eps), np.inf, eps)
    best = int(np.argmin(eps))
    return float(max(eps[best], 0.0)), int(a[best])


def dp_sgd_epsilon(
    q: float, noise_multiplier: float, steps: int, delta: float, orders: Sequence[int] = DEFAULT_ORDERS
) -> float:
    """Epsilon of ``steps`` DP-SGD steps with sampling rate q and noise sigma, at ``delta``.

    Examples
    --------
    >>> round(dp_sgd_epsilon(q=0.01, noise_multiplier=1.1, steps=10_000, delta=1e-5), 2)
    5.65
    """
    _check_positive_int("steps", steps)
    _check_delta(delta, "dp_sgd_epsilon")
    return rdp_to_epsilon(steps * rdp_sampled_gaussian(q, noise_multiplier, orders), orders, delta)[0]


class RDPAccountant:
    """Running RDP total of sampled Gaussian steps (possibly with changing q and sigma).

    :meth:`step` checks its arguments when it is called (sigma a finite number >= 0, q in
    [0, 1]), not later in :meth:`get_epsilon`, so the error points at the bad step; and
    ``delta`` is checked even before the first step.

    Examples
    --------
    >>> acc = RDPAccountant()
    >>> for _ in range(3):
    ...     acc.step(noise_multiplier=1.0, sample_rate=0.5)
    >>> len(acc), round(acc.get_epsilon(delta=1e-5), 3) == round(dp_sgd_epsilon(0.5, 1.0, 3, 1e-5), 3)
    (3, True)
    """

    def __init__(self, orders: Sequence[int] = DEFAULT_ORDERS):
        self.orders = tuple(int(a) for a in _check_orders(orders))
        self._history: dict[tuple[float, float], int] = {}

    def step(self, *, noise_multiplier: float, sample_rate: float) -> None:
        """Record one step of the sampled Gaussian mechanism with sigma and q."""
        key = (_check_sigma(noise_multiplier, "RDPAccountant.step"), _check_rate(sample_rate, "RDPAccountant.step"))
        self._history[key] = self._history.get(key, 0) + 1

    def __len__(self) -> int:
        return sum(self._history.values())

    def get_privacy_spent(self, delta: float) -> tuple[float, int]:
        """(epsilon, best order) at ``delta``; (0, first order) before any step."""
        _check_delta(delta, "RDPAccountant.get_privacy_spent")
        total = np.zeros(len(self.orders))
        for (sigma, q), steps in self._history.items():
            total += steps * rdp_sampled_gaussian(q, sigma, self.orders)
        if not self._history:
            return 0.0, self.orders[0]
        return rdp_to_epsilon(total, self.orders, delta)

    def get_epsilon(self, delta: float) -> float:
        """Epsilon spent so far at ``delta``."""
        return self.get_privacy_spent(delta)[0]


# ---------------------------------------------------------------------------
# 4. Membership inference
# ---------------------------------------------------------------------------


@torch.no_grad()
def per_example_losses(
    model: nn.Module, inputs: Sequence[torch.Tensor], y: torch.Tensor, batch_size: int = 8192
) -> np.ndarray:
    """Binary cross-entropy of a logit model on every row, (N,) float64.

    Examples
    --------
    >>> from recfeat_ref.neural import LogisticRegression, LRConfig
    >>> model = LogisticRegression(LRConfig(field_dims=(3,)))   # weights start at 0: logit 0
    >>> per_example_losses(model, [torch.tensor([[1], [2]])], torch.tensor([1.0, 0.0])).round(4)
    array([0.6931, 0.6931])
    """
    _check_positive_int("batch_size", batch_size)
    if len(y) == 0 or any(len(x) != len(y) for x in inputs):
        raise ValueError(f"per_example_losses: inputs and y must have the same, non-zero length, got "
                         f"{[len(x) for x in inputs]} and {len(y)}")
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(y), batch_size):
        logits = model(*(x[start : start + batch_size].to(device) for x in inputs))
        target = y[start : start + batch_size].to(device)
        out.append(nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").cpu())
    return torch.cat(out).double().numpy()


def loss_threshold_attack(member_losses, nonmember_losses, threshold: float | None = None) -> dict[str, float]:
    r"""Loss-threshold membership inference (Yeom et al. [8]_).

    The attacker guesses that a row was in the training set when the model's loss on it
    is small: score :math:`s(x, y) = -\ell(f(x), y)`. We report

    * ``auc``: ROC-AUC of the score separating members from non-members, over all
      thresholds (0.5 = no leakage, 1 = every member found);
    * ``advantage``: Yeom's membership advantage, TPR - FPR at the threshold
      :math:`\tau` = mean training loss (``threshold`` overrides it); for an
      :math:`\varepsilon`-DP model it is at most :math:`e^\varepsilon - 1`;
    * ``accuracy``: accuracy of that threshold rule on the balanced set.

    Use equally many members and non-members, so that 0.5 is chance.

    Examples
    --------
    >>> r = loss_threshold_attack([0.1, 0.2, 0.3], [0.25, 0.5, 0.9])
    >>> round(r["auc"], 3), round(r["threshold"], 3), round(r["advantage"], 3)
    (0.889, 0.2, 0.667)
    """
    m = np.asarray(member_losses, dtype=float)
    nm = np.asarray(nonmember_losses, dtype=float)
    if m.size == 0 or nm.size == 0:
        raise ValueError("loss_threshold_attack needs at least one member and one non-member loss")
    m = check_vector(m, "loss_threshold_attack(member_losses)")  # NaN or inf raise, located
    nm = check_vector(nm, "loss_threshold_attack(nonmember_losses)")
    if threshold is not None and not (_real(threshold) and math.isfinite(threshold)):
        raise ValueError(f"loss_threshold_attack: threshold must be a finite number or None, got {threshold!r}")
    tau = float(m.mean()) if threshold is None else float(threshold)
    labels = np.r_[np.ones(len(m)), np.zeros(len(nm))]
    scores = -np.r_[m, nm]
    tpr, fpr = float((m <= tau).mean()), float((nm <= tau).mean())
    accuracy = ((m <= tau).sum() + (nm > tau).sum()) / (len(m) + len(nm))
    return {"auc": roc_auc(labels, scores), "advantage": tpr - fpr, "accuracy": float(accuracy), "threshold": tau}


def dp_membership_bounds(epsilon: float, delta: float = 0.0) -> dict[str, float]:
    r"""The best any membership attack can do against an (epsilon, delta)-DP model.

    Deciding "member or not" from a DP model's output is a hypothesis test between
    :math:`M(D)` and :math:`M(D')`; DP forces every test's true- and false-positive
    rates to satisfy (Kairouz et al. [10]_)

    .. math:: \mathrm{TPR} \le e^{\varepsilon}\,\mathrm{FPR} + \delta, \qquad
              1 - \mathrm{FPR} \ge e^{-\varepsilon}(1 - \delta - \mathrm{TPR}).

    The largest ROC curve allowed, :math:`\mathrm{TPR}(x) = \min(1, e^\varepsilon x + \delta,
    1 - e^{-\varepsilon}(1 - \delta - x))`, bounds the attack's ROC-AUC (its integral;
    :math:`e^\varepsilon / (1 + e^\varepsilon)` when :math:`\delta = 0`) and its advantage
    :math:`\max(\mathrm{TPR} - \mathrm{FPR}) = (e^\varepsilon - 1 + 2\delta) / (e^\varepsilon + 1)`,
    tighter than Yeom et al.'s :math:`e^\varepsilon - 1` [8]_.

    Returns
    -------
    dict with ``auc`` and ``advantage`` (1.0 and 1.0 for epsilon = inf)

    Examples
    --------
    >>> b = dp_membership_bounds(1.0)
    >>> round(b["auc"], 4), round(b["advantage"], 4)  # e/(1+e), tanh(1/2)
    (0.7311, 0.4621)
    """
    if not (_real(epsilon) and epsilon >= 0):  # NaN fails; inf is allowed (no privacy)
        raise ValueError(f"dp_membership_bounds: epsilon must be a number >= 0 (inf allowed), got {epsilon!r}")
    delta = _check_delta(delta, "dp_membership_bounds", low_closed=True)
    if math.isinf(epsilon):
        return {"auc": 1.0, "advantage": 1.0}
    e = math.exp(epsilon)
    # the curve is piecewise linear with breaks where the pieces meet: integrate exactly
    x_mid = (1 - delta) / (1 + e)  # e x + delta = 1 - (1 - delta - x) / e
    knots = np.unique(np.clip([0.0, x_mid, (1 - delta) / e, 1 - e * delta, 1.0], 0, 1))
    x = np.unique(np.concatenate([knots, np.linspace(0, 1, 1001)]))
    tpr = np.minimum.reduce([np.ones_like(x), e * x + delta, 1 - (1 - delta - x) / e])
    tpr = np.clip(tpr, 0, 1)
    auc = float(np.sum((tpr[1:] + tpr[:-1]) / 2 * np.diff(x)))
    return {"auc": auc, "advantage": float(min(1.0, (e - 1 + 2 * delta) / (e + 1)))}
