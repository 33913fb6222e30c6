"""Tests for recfeat_ref.datasets: MovieLens-100K loading, verification, caching.

No test touches the network: an autouse fixture replaces the GroupLens opener
and ``pip download`` with stubs that fail. Real-data tests read a private copy
of a verified cache, made once per session from the default data home (filled
by ``python -m recfeat_ref.datasets``) or from the wheel named by
``RECFEAT_RECBOLE_WHEEL``; they are skipped when neither exists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import time
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recfeat_ref import datasets as ds
from recfeat_ref._validation import DataValidationError
from recfeat_ref.datasets import (
    GENRES,
    RATINGS_CONTENT_SHA256,
    DataSourceError,
    clear_cache,
    genre_matrix,
    get_data_home,
    load_movielens_100k,
    validate_ratings,
)

RATING_COLS = ["user_id", "item_id", "rating", "timestamp"]
REAL_PIP_DOWNLOAD = ds._pip_download  # taken at import, before any test stubs it


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Every download path fails unless a test serves data itself."""

    def no_network(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    def no_pip(dest):
        raise DataSourceError("pip download disabled in tests")

    monkeypatch.setattr(ds, "_urlopen", no_network)
    monkeypatch.setattr(ds, "_pip_download", no_pip)
    monkeypatch.delenv(ds.RECBOLE_WHEEL_ENV, raising=False)
    monkeypatch.delenv(ds.DATA_HOME_ENV, raising=False)


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory):
    """(data_home, MovieLens100K): a private, verified cache, built once per session."""
    home = tmp_path_factory.mktemp("ml_home")
    default_home = get_data_home()
    try:
        load_movielens_100k(default_home, sources=("cache",), verbose=False)
        shutil.copytree(default_home / ds.CACHE_SUBDIR, home / ds.CACHE_SUBDIR)
    except (DataSourceError, DataValidationError) as exc:
        wheel = os.environ.get(ds.RECBOLE_WHEEL_ENV)
        if not (wheel and Path(wheel).is_file()):
            pytest.skip(
                f"MovieLens-100K not available offline: no valid cache in {default_home} "
                f"({exc}) and {ds.RECBOLE_WHEEL_ENV} is unset; run "
                "`python -m recfeat_ref.datasets` first"
            )
        load_movielens_100k(home, sources=("pypi",), verbose=False)
    return home, load_movielens_100k(home, sources=("cache",), verbose=False)


@pytest.fixture
def ml(real_cache):
    return real_cache[1]


@pytest.fixture
def home(real_cache, tmp_path):
    """A data home holding a fresh copy of the verified cache, safe to damage."""
    target = tmp_path / "home"
    shutil.copytree(real_cache[0] / ds.CACHE_SUBDIR, target / ds.CACHE_SUBDIR)
    return target


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager with headers."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def fake_opener(blob: bytes, calls: list | None = None):
    def opener(url, timeout=None):
        if calls is not None:
            calls.append((url, timeout))
        return FakeResponse(blob)

    return opener


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def grouplens_zip(files: dict[str, bytes]) -> bytes:
    return make_zip({f"ml-100k/{name}": data for name, data in files.items()})


def write_wheel(path: Path, files: dict[str, bytes]) -> Path:
    path.write_bytes(make_zip({ds.RECBOLE_MEMBER_DIR + name: d for name, d in files.items()}))
    return path


def cached_files(cache_dir: Path) -> dict[str, bytes]:
    manifest = json.loads((cache_dir / ds.MANIFEST).read_text())
    return {name: (cache_dir / name).read_bytes() for name in manifest["files"]}


@pytest.fixture
def serve(real_cache, monkeypatch, tmp_path):
    """Make the real data downloadable, offline, from the source it came from."""
    home, ml = real_cache
    files = cached_files(home / ds.CACHE_SUBDIR)
    if ml.origin == "pypi":
        wheel = write_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl", files)
        monkeypatch.setenv(ds.RECBOLE_WHEEL_ENV, str(wheel))
    else:
        monkeypatch.setattr(ds, "_urlopen", fake_opener(grouplens_zip(files)))
    return ml.origin


def ratings_file(origin: str) -> str:
    return {"pypi": "ml-100k.inter", "grouplens": "u.data"}[origin]


def flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def leftovers(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def assert_same_data(a, b) -> None:
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.items, b.items)


# Tiny GroupLens-layout files: 3 ratings, 2 users, 3 items.
TINY_U_DATA = b"1\t10\t3\t881250949\n2\t10\t5\t881250950\n2\t267\t1\t881250951\n"
TINY_U_USER = b"1|24|M|technician|85711\n2|53|F|other|05201\n"
TINY_U_ITEM = (
    "10|Mis\u00e9rables, Les (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|1|0|0|0|0|0|0\n"
    "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "1412|Land Before Time III: The Time of the Great Giving (1995) (V)|01-Jan-1995||"
    "http://x|0|0|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
).encode("latin-1")
TINY_GROUPLENS = {"u.data": TINY_U_DATA, "u.user": TINY_U_USER, "u.item": TINY_U_ITEM}


# --------------------------------------------------------------------------
# The real data: content
# --------------------------------------------------------------------------


def test_counts_and_dtypes(ml):
    assert ml.ratings.shape == (100_000, 4)
    assert ml.users.shape == (943, 5)
    assert ml.items.shape == (1_682, 4)
    assert list(ml.ratings.columns) == RATING_COLS
    assert (ml.ratings.dtypes == np.int64).all()
    assert list(ml.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert ml.users["user_id"].dtype == np.int64 and ml.users["age"].dtype == np.int64
    for col in ("gender", "occupation", "zip_code"):
        assert pd.api.types.is_string_dtype(ml.users[col]), col
    assert list(ml.items.columns) == ["item_id", "title", "year", "genres"]
    assert ml.items["item_id"].dtype == np.int64
    assert pd.api.types.is_string_dtype(ml.items["title"])
    assert ml.items["year"].dtype == "Int64"
    assert ml.items["genres"].map(type).eq(list).all()


def test_ranges_and_ids(ml):
    r = ml.ratings
    assert r["rating"].between(1, 5).all()
    assert set(r["rating"].unique()) == {1, 2, 3, 4, 5}
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert ml.users["user_id"].tolist() == list(range(1, 944))
    assert ml.items["item_id"].tolist() == list(range(1, 1683))
    assert set(ml.users["gender"]) == {"M", "F"}
    # 1997-09-19 .. 1998-04-22, the collection window documented by GroupLens
    assert r["timestamp"].min() == 874724710 and r["timestamp"].max() == 893286638


def test_first_and_last_rating_rows_keep_u_data_order(ml):
    assert ml.ratings.iloc[0].tolist() == [196, 242, 3, 881250949]
    assert ml.ratings.iloc[-1].tolist() == [12, 203, 3, 879959583]


def test_user_1(ml):
    row = ml.users.set_index("user_id").loc[1]
    assert (row["age"], row["gender"], row["occupation"], row["zip_code"]) == (
        24, "M", "technician", "85711",
    )  # fmt: skip


def test_zip_codes_stay_strings(ml):
    zips = ml.users.set_index("user_id")["zip_code"]
    assert zips.loc[8] == "05201"  # leading zero kept
    assert zips.loc[74] == "T8H1N"  # Canadian postcode


def test_item_1_title_year_genres(ml):
    item = ml.items.set_index("item_id").loc[1]
    assert item["title"] == "Toy Story"
    assert item["year"] == 1995
    assert item["genres"] == ["Animation", "Children's", "Comedy"]


def test_item_267_is_the_unknown_film(ml):
    item = ml.items.set_index("item_id").loc[267]
    assert item["title"] == "unknown"
    assert pd.isna(item["year"])
    assert item["genres"] == ["unknown"]
    assert ml.items["year"].isna().sum() == 1


def test_item_1412_keeps_its_video_suffix(ml):
    item = ml.items.set_index("item_id").loc[1412]
    assert item["title"] == "Land Before Time III: The Time of the Great Giving (1995) (V)"
    assert item["year"] == 1995


def test_titles_lose_their_year_and_keep_accents(ml):
    titles = ml.items.set_index("item_id")["title"]
    assert titles.loc[11] == "Seven (Se7en)"
    assert titles.loc[543] == "Misérables, Les"
    assert not titles.str.contains(r" \(\d{4}\)$").any()


def test_ratings_content_hash(ml):
    block = np.ascontiguousarray(ml.ratings[RATING_COLS].to_numpy(np.int64))
    assert hashlib.sha256(block.tobytes()).hexdigest() == RATINGS_CONTENT_SHA256


def test_genre_matrix(ml):
    g = genre_matrix(ml.items)
    assert g.shape == (1_682, 19)
    assert list(g.columns) == sorted(GENRES)
    assert g.index.name == "item_id" and g.index.tolist() == list(range(1, 1683))
    assert set(np.unique(g.to_numpy())) <= {0, 1}
    assert g.loc[1][g.loc[1] == 1].index.tolist() == ["Animation", "Children's", "Comedy"]
    assert g.sum(axis=1).tolist() == ml.items["genres"].map(len).tolist()
    assert g["Drama"].sum() == 725  # the most common genre


def test_genre_matrix_small_and_bad_input():
    items = pd.DataFrame({"item_id": [5, 3], "genres": [["Comedy"], ["Horror", "Noir-ish"]]})
    g = genre_matrix(items)
    assert list(g.columns) == sorted([*GENRES, "Noir-ish"])
    assert g.loc[3, "Noir-ish"] == 1 and g.loc[5, "Comedy"] == 1 and g.to_numpy().sum() == 3
    with pytest.raises(DataValidationError, match="'genres'"):
        genre_matrix(pd.DataFrame({"item_id": [1], "genres": ["Comedy"]}))
    with pytest.raises(DataValidationError, match="missing column"):
        genre_matrix(pd.DataFrame({"item_id": [1]}))


# --------------------------------------------------------------------------
# Sources and the cache
# --------------------------------------------------------------------------


def test_cache_round_trip(home, ml):
    first = load_movielens_100k(home, sources=("cache",), verbose=False)
    second = load_movielens_100k(home, verbose=False)  # default sources: cache wins
    assert first.source == second.source == "cache"
    assert first.origin == ml.origin and first.path == home / "ml-100k"
    assert_same_data(first, ml)
    assert_same_data(second, ml)
    manifest = json.loads((home / "ml-100k" / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (home / "ml-100k" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    assert "MovieLens100K(ratings=100,000 rows" in repr(first)


def test_download_writes_cache_then_cache_serves(serve, ml, tmp_path):
    fresh = tmp_path / "fresh"
    got = load_movielens_100k(fresh, sources=(serve,), verbose=False)
    assert got.source == serve and got.origin == serve
    assert_same_data(got, ml)
    names = set(ds._PARSERS[serve][1].values())
    assert leftovers(fresh / "ml-100k") == sorted(names | {"manifest.json"})
    again = load_movielens_100k(fresh, sources=("cache",), verbose=False)
    assert again.source == "cache" and again.origin == serve
    assert_same_data(again, ml)


def test_manifest_is_written_last(serve, monkeypatch, tmp_path):
    order = []
    real = ds._atomic_write

    def recording_write(path, data):
        order.append(path.name)
        real(path, data)

    monkeypatch.setattr(ds, "_atomic_write", recording_write)
    load_movielens_100k(tmp_path / "h", sources=(serve,), verbose=False)
    assert order[-1] == "manifest.json" and len(order) == 4


def test_verbose_download_says_so(serve, tmp_path, capsys):
    load_movielens_100k(tmp_path / "h", sources=(serve,), verbose=True)
    assert "cached it in" in capsys.readouterr().err


def test_corrupted_cache_raises_naming_file_and_hashes(home, ml):
    name = ratings_file(ml.origin)
    before = hashlib.sha256((home / "ml-100k" / name).read_bytes()).hexdigest()
    flip_byte(home / "ml-100k" / name)
    after = hashlib.sha256((home / "ml-100k" / name).read_bytes()).hexdigest()
    with pytest.raises(DataValidationError) as info:
        load_movielens_100k(home, sources=("cache",), verbose=False)
    message = str(info.value)
    assert name in message and before in message and after in message
    assert "clear_cache()" in message
    assert (home / "ml-100k" / name).exists()  # explicit cache-only: nothing re-downloaded


def test_corrupted_cache_recovers_with_default_sources(home, ml, serve):
    flip_byte(home / "ml-100k" / ratings_file(ml.origin))
    with pytest.warns(UserWarning, match="failed verification"):
        got = load_movielens_100k(home, verbose=False)
    assert got.source == serve
    assert_same_data(got, ml)
    again = load_movielens_100k(home, sources=("cache",), verbose=False)  # rewritten
    assert again.source == "cache"


def test_unreadable_manifest_is_corruption(home):
    (home / "ml-100k" / "manifest.json").write_text("{not json")
    with pytest.raises(DataValidationError, match="manifest.json.*clear_cache"):
        load_movielens_100k(home, sources=("cache",), verbose=False)


def test_file_missing_from_cache_is_corruption(home, ml):
    (home / "ml-100k" / ratings_file(ml.origin)).unlink()
    with pytest.raises(DataValidationError, match=ratings_file(ml.origin)):
        load_movielens_100k(home, sources=("cache",), verbose=False)


def test_cache_without_manifest_is_just_absent(home, serve, ml):
    (home / "ml-100k" / "manifest.json").unlink()  # an interrupted earlier write
    with pytest.raises(DataSourceError, match="manifest.json missing"):
        load_movielens_100k(home, sources=("cache",), verbose=False)
    got = load_movielens_100k(home, verbose=False)  # no warning: not corruption
    assert got.source == serve
    assert (home / "ml-100k" / "manifest.json").exists()


def test_clear_cache(home):
    (home / "other.txt").write_text("keep me")
    assert clear_cache(home) is True
    assert not (home / "ml-100k").exists() and (home / "other.txt").exists()
    assert clear_cache(home) is False


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_write_leaves_nothing(serve, monkeypatch, tmp_path, crash):
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # after the first file is in place
            raise crash
        return real_replace(src, dst)

    monkeypatch.setattr(ds.os, "replace", replace)
    fresh = tmp_path / "fresh"
    with pytest.raises(type(crash)):
        load_movielens_100k(fresh, sources=(serve,), verbose=False)
    assert leftovers(fresh / "ml-100k") == []
    monkeypatch.setattr(ds.os, "replace", real_replace)
    with pytest.raises(DataSourceError, match="no cache"):
        load_movielens_100k(fresh, sources=("cache",), verbose=False)


def test_interrupted_rewrite_of_corrupted_cache_leaves_nothing(home, ml, serve, monkeypatch):
    flip_byte(home / "ml-100k" / ratings_file(ml.origin))
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "manifest.json":
            raise OSError("simulated crash before the manifest")
        return real_replace(src, dst)

    monkeypatch.setattr(ds.os, "replace", replace)
    with pytest.warns(UserWarning), pytest.raises(OSError, match="simulated crash"):
        load_movielens_100k(home, verbose=False)
    assert leftovers(home / "ml-100k") == []


def test_failed_verification_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(ds, "_urlopen", fake_opener(grouplens_zip(TINY_GROUPLENS)))
    with pytest.raises(DataValidationError, match=r"u\.data: expected 100,000 ratings rows"):
        load_movielens_100k(tmp_path, sources=("grouplens",), verbose=False)
    assert not (tmp_path / "ml-100k").exists()


# --------------------------------------------------------------------------
# GroupLens source (fake zips, no network)
# --------------------------------------------------------------------------


def test_grouplens_parser_on_tiny_zip(monkeypatch):
    calls = []
    monkeypatch.setattr(ds, "_urlopen", fake_opener(grouplens_zip(TINY_GROUPLENS), calls))
    files, detail = ds._fetch_grouplens(verbose=False)
    assert calls == [(ds.GROUPLENS_URL, ds.GROUPLENS_TIMEOUT_S)] and detail == ds.GROUPLENS_URL
    assert files == TINY_GROUPLENS
    ratings, users, items = ds._parse_grouplens(files)
    assert ratings.values.tolist() == [
        [1, 10, 3, 881250949], [2, 10, 5, 881250950], [2, 267, 1, 881250951],
    ]  # fmt: skip
    assert (ratings.dtypes == np.int64).all()
    assert users["zip_code"].tolist() == ["85711", "05201"]
    assert users["age"].tolist() == [24, 53]
    assert items["item_id"].tolist() == [10, 267, 1412]
    assert items["title"].tolist() == [
        "Misérables, Les", "unknown",
        "Land Before Time III: The Time of the Great Giving (1995) (V)",
    ]  # fmt: skip
    assert items["year"].tolist() == [1995, pd.NA, 1995]
    assert items["genres"].tolist() == [
        ["Drama", "Musical"], ["unknown"], ["Animation", "Children's"],
    ]  # fmt: skip


def test_grouplens_year_falls_back_to_release_date():
    files = dict(TINY_GROUPLENS, **{"u.item": b"7|Untitled|22-Jan-1996||u|" + b"0|" * 18 + b"1\n"})
    items = ds._parse_grouplens(files)[2]
    assert items["title"].tolist() == ["Untitled"] and items["year"].tolist() == [1996]
    assert items["genres"].tolist() == [["Western"]]


def test_grouplens_full_size_matches_pypi(ml, monkeypatch, tmp_path):
    """Rebuild the three files in GroupLens layout from the verified frames."""
    u_data = ml.ratings.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    u_user = ml.users.to_csv(sep="|", header=False, index=False, lineterminator="\n")
    lines = []
    for item in ml.items.itertuples(index=False):
        has_year = pd.notna(item.year)
        keep = not has_year or ds._ANY_YEAR.search(item.title)  # 267, and 1412's "(1995) (V)"
        raw = item.title if keep else f"{item.title} ({item.year})"
        date = f"01-Jan-{item.year}" if has_year else ""
        flags = "|".join("1" if g in item.genres else "0" for g in GENRES)
        lines.append(f"{item.item_id}|{raw}|{date}||http://us.imdb.com/|{flags}\n")
    files = {
        "u.data": u_data.encode(),
        "u.user": u_user.encode(),
        "u.item": "".join(lines).encode("latin-1"),
    }
    monkeypatch.setattr(ds, "_urlopen", fake_opener(grouplens_zip(files)))
    got = load_movielens_100k(tmp_path, sources=("grouplens",), verbose=False)
    assert got.source == "grouplens"
    assert_same_data(got, ml)
    assert leftovers(tmp_path / "ml-100k") == ["manifest.json", "u.data", "u.item", "u.user"]
    again = load_movielens_100k(tmp_path, sources=("cache",), verbose=False)
    assert again.origin == "grouplens"
    assert_same_data(again, ml)


def test_grouplens_bad_zip_and_missing_member(monkeypatch, tmp_path):
    monkeypatch.setattr(ds, "_urlopen", fake_opener(b"<html>not a zip</html>"))
    with pytest.raises(DataValidationError, match="not a valid zip"):
        load_movielens_100k(tmp_path, sources=("grouplens",), verbose=False)
    partial = {k: v for k, v in TINY_GROUPLENS.items() if k != "u.item"}
    monkeypatch.setattr(ds, "_urlopen", fake_opener(grouplens_zip(partial)))
    with pytest.raises(DataValidationError, match="lacks ml-100k/u.item"):
        load_movielens_100k(tmp_path, sources=("grouplens",), verbose=False)


def test_grouplens_bad_rating_names_the_file():
    files = dict(TINY_GROUPLENS, **{"u.data": b"1\t10\t7\t881250949\n"})
    with pytest.raises(DataValidationError, match=r"u\.data: column 'rating'.*7"):
        ds._parse_grouplens(files)


# --------------------------------------------------------------------------
# PyPI source (local wheels, no network)
# --------------------------------------------------------------------------


def test_wheel_env_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv(ds.RECBOLE_WHEEL_ENV, str(tmp_path / "missing.whl"))
    with pytest.raises(DataSourceError, match="RECFEAT_RECBOLE_WHEEL=.*missing.whl is not a file"):
        load_movielens_100k(tmp_path, sources=("pypi",), verbose=False)


def test_wheel_with_altered_member_fails_its_known_hash(monkeypatch, tmp_path):
    files = {"ml-100k.inter": b"x", "ml-100k.user": b"y", "ml-100k.item": b"z"}
    wheel = write_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl", files)
    monkeypatch.setenv(ds.RECBOLE_WHEEL_ENV, str(wheel))
    with pytest.raises(DataValidationError) as info:
        load_movielens_100k(tmp_path, sources=("pypi",), verbose=False)
    message = str(info.value)
    assert "ml-100k.inter" in message and ds.RECBOLE_SHA256["ml-100k.inter"] in message
    assert hashlib.sha256(b"x").hexdigest() in message
    assert not (tmp_path / "ml-100k").exists()


def test_pip_download_path(real_cache, monkeypatch, tmp_path):
    home, ml = real_cache
    if ml.origin != "pypi":
        pytest.skip("the session cache came from GroupLens; no recbole files to serve")
    files = cached_files(home / ds.CACHE_SUBDIR)
    commands = []

    def fake_run(cmd, **kwargs):
        commands.append(cmd)
        write_wheel(Path(cmd[cmd.index("-d") + 1]) / "recbole-1.2.1-py3-none-any.whl", files)
        return ds.subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(ds, "_pip_download", REAL_PIP_DOWNLOAD)  # undo the autouse stub
    monkeypatch.setattr(ds.subprocess, "run", fake_run)
    got = load_movielens_100k(tmp_path, sources=("pypi",), verbose=False)
    assert got.source == "pypi"
    assert_same_data(got, ml)
    (cmd,) = commands
    assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "--only-binary=:all:" in cmd and "recbole==1.2.1" in cmd
    assert "install" not in cmd


def test_pip_failure_is_a_source_error(monkeypatch, tmp_path):
    def fake_run(cmd, **kwargs):
        return ds.subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version\n")

    monkeypatch.setattr(ds, "_pip_download", REAL_PIP_DOWNLOAD)
    monkeypatch.setattr(ds.subprocess, "run", fake_run)
    with pytest.raises(DataSourceError, match="exit 1.*Could not find a version"):
        load_movielens_100k(tmp_path, sources=("pypi",), verbose=False)


# --------------------------------------------------------------------------
# Failure reporting, arguments, paths, command line
# --------------------------------------------------------------------------


def test_unreachable_sources_list_every_reason(tmp_path):
    with pytest.raises(DataSourceError) as info:
        load_movielens_100k(tmp_path, verbose=False)
    message = str(info.value)
    for source, why in [
        ("cache", "no cache"),
        ("grouplens", "network disabled in tests"),
        ("pypi", "pip download disabled in tests"),
    ]:
        assert f"- {source}: " in message and why in info.value.reasons[source]
    assert set(info.value.reasons) == {"cache", "grouplens", "pypi"}
    assert isinstance(info.value, RuntimeError)


def test_sources_argument(tmp_path):
    with pytest.raises(ValueError, match="sources must be"):
        load_movielens_100k(tmp_path, sources=("s3",))
    with pytest.raises(ValueError, match="sources must be"):
        load_movielens_100k(tmp_path, sources=())
    with pytest.raises(DataSourceError, match="no cache"):
        load_movielens_100k(tmp_path, sources="cache")  # a bare string is one source


def test_get_data_home(monkeypatch, tmp_path):
    assert get_data_home(tmp_path) == tmp_path
    assert get_data_home() == Path.home() / ".cache" / "recfeat_ref"
    monkeypatch.setenv("RECFEAT_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home("~/x") == Path.home() / "x"
    assert not (tmp_path / "env").exists()  # not created


def test_command_line(serve, tmp_path, capsys):
    assert ds.main(["--data-home", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "100,000 ratings, 943 users, 1,682 items" in out
    assert f"source: {serve}" in out and str(tmp_path / "ml-100k") in out
    assert ds.main(["--data-home", str(tmp_path), "--sources", "cache", "--quiet"]) == 0
    assert "source: cache" in capsys.readouterr().out


def test_command_line_failure(tmp_path, capsys):
    assert ds.main(["--data-home", str(tmp_path), "--quiet"]) == 1
    assert "could not load MovieLens-100K" in capsys.readouterr().err


# --------------------------------------------------------------------------
# validate_ratings
# --------------------------------------------------------------------------


def good_ratings() -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": [1, 1, 2], "item_id": [10, 11, 10], "rating": [5, 3, 1], "timestamp": [1, 2, 3]}
    )


def test_validate_ratings_accepts_good_frame():
    df = good_ratings()
    assert validate_ratings(df) is df


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda d: d.drop(columns="rating"), r"u\.data: missing column\(s\) \['rating'\]"),
        (
            lambda d: d.assign(user_id=[1.0, np.nan, 2.0]),
            r"u\.data: column 'user_id' has 1 missing .*\[1\]",
        ),
        (lambda d: d.assign(item_id=[10, 11, None]), r"u\.data: column 'item_id' has 1 missing"),
        (
            lambda d: d.assign(rating=[5, 6, 0]),
            r"u\.data: column 'rating' has 2 value\(s\) outside \[1, 5\]: \[.*0.*6",
        ),
        (
            lambda d: d.assign(rating=["5", "x", "1"]),
            r"u\.data: column 'rating' must hold numbers.*'x'",
        ),
        (
            lambda d: d.assign(item_id=[10, 10, 10]),
            r"u\.data: 2 rows repeat a \(user_id, item_id\) pair, e\.g\. \[\(1, 10\)\]",
        ),
        (lambda d: d.iloc[:0], r"u\.data: the frame is empty"),
    ],
    ids=[
        "missing-column", "nan-user", "nan-item", "out-of-range", "text-rating",
        "duplicate-pair", "empty",
    ],  # fmt: skip
)
def test_validate_ratings_errors(change, pattern):
    with pytest.raises(DataValidationError, match=pattern):
        validate_ratings(change(good_ratings()), name="u.data")


def test_validate_ratings_rejects_non_frames():
    with pytest.raises(TypeError, match="ratings: expected a pandas DataFrame"):
        validate_ratings([[1, 2, 3, 4]])


def test_recbole_parser_uses_file_names_in_errors():
    header = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    files = {
        "ml-100k.inter": header + b"1\t2\t3.5\t881250949\n",
        "ml-100k.user": (
            b"user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        ),
        "ml-100k.item": b"",
    }
    pattern = r"ml-100k\.inter: column 'rating' must hold whole numbers.*3\.5"
    with pytest.raises(DataValidationError, match=pattern):
        ds._parse_recbole(files)
    files["ml-100k.inter"] = header + b"1\t2\t3\t881250949\n"
    with pytest.raises(DataValidationError, match=r"ml-100k\.user: the frame is empty"):
        ds._parse_recbole(files)


# --------------------------------------------------------------------------
# The input contract: the data home (issue 15)
# --------------------------------------------------------------------------


def recording_opener(calls: list):
    def opener(url, timeout=None):
        calls.append(url)
        raise urllib.error.URLError("must not be reached")

    return opener


@pytest.mark.parametrize("value, error, pattern", [
    (5, TypeError, r"data_home=5: a data home must be a str or path-like folder, got int; pass data_home="),
    ("", ValueError, r"data_home='': an empty folder name \(it would mean the current folder\)"),
    ("   ", ValueError, "an empty folder name"),
    ("a\x00b", ValueError, "NUL character"),
])  # fmt: skip
def test_data_home_that_cannot_be_a_folder_name_raises(value, error, pattern, tmp_path):
    with pytest.raises(error, match=pattern):
        get_data_home(value)
    with pytest.raises(error, match=pattern):
        load_movielens_100k(value, verbose=False)
    with pytest.raises(error, match=pattern):
        clear_cache(value)


def test_data_home_that_is_a_file_raises_naming_it_before_any_download(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ds, "_urlopen", recording_opener(calls))
    home = tmp_path / "home.txt"
    home.write_text("not a folder")
    for sources in (("cache",), ("grouplens",), ds.SOURCES):
        with pytest.raises(ValueError, match=rf"data_home=.*: {re.escape(str(home))} is a file, not a folder; pass data_home="):
            load_movielens_100k(home, sources=sources, verbose=False)
    with pytest.raises(ValueError, match="is a file"):
        clear_cache(home)
    assert calls == [] and home.read_text() == "not a folder"
    # the cache folder itself a file
    (tmp_path / "h2").mkdir()
    (tmp_path / "h2" / "ml-100k").write_text("x")
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path / 'h2' / 'ml-100k'))} is a file"):
        load_movielens_100k(tmp_path / "h2", verbose=False)


def test_data_home_that_cannot_be_created_raises_before_downloading(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ds, "_urlopen", recording_opener(calls))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=rf"cannot be created because {re.escape(str(blocker))} is a file"):
        load_movielens_100k(blocker / "sub" / "home", verbose=False)
    # not writable (simulated: the tests may run as root, who can write anywhere)
    real_access = os.access
    monkeypatch.setattr(ds.os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path / 'new'))} cannot be created: "
                                         rf"{re.escape(str(tmp_path))} is not writable"):
        load_movielens_100k(tmp_path / "new", sources=("grouplens",), verbose=False)
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path))} is not writable"):
        load_movielens_100k(tmp_path, sources=("cache", "grouplens"), verbose=False)
    assert calls == [], "nothing is downloaded that could not be kept"
    # a read-only data home is fine for reading a cache: only "no cache" here
    with pytest.raises(DataSourceError, match="no cache"):
        load_movielens_100k(tmp_path, sources=("cache",), verbose=False)


def test_recfeat_data_env_var_is_checked_the_same_way(tmp_path, monkeypatch):
    home = tmp_path / "file"
    home.write_text("x")
    monkeypatch.setenv("RECFEAT_DATA", str(home))
    with pytest.raises(ValueError, match=rf"RECFEAT_DATA=.* \(environment variable\): .* is a file.*point RECFEAT_DATA at"):
        load_movielens_100k(verbose=False)
    monkeypatch.setenv("RECFEAT_DATA", "   ")
    with pytest.raises(ValueError, match=r"RECFEAT_DATA='   ' \(environment variable\): an empty folder name"):
        get_data_home()
    monkeypatch.setenv("RECFEAT_DATA", "")  # set but empty: documented as unset
    assert get_data_home() == Path.home() / ".cache" / "recfeat_ref"


# --------------------------------------------------------------------------
# Leftovers of killed writes (issue 15)
# --------------------------------------------------------------------------

KILLED_WRITE = """
import os, sys
from pathlib import Path
from recfeat_ref import datasets as ds
os.replace = lambda src, dst: os._exit(9)   # killed after the data are on disk, before the rename
ds._atomic_write(Path(sys.argv[1]), b"partial")
"""


def killed_write(path: Path) -> list[str]:
    """Run an _atomic_write in a child process that dies mid-write; return what it left."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(path)], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    return sorted(p.name for p in path.parent.glob(".*.tmp"))


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "u.data"
    left = killed_write(target)
    assert len(left) == 1 and left[0].startswith(".u.data.") and not target.exists()
    ds._atomic_write(tmp_path / "manifest.json", b"{}")  # any later successful write in the folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_only_stale_temporaries_of_the_package_are_removed(tmp_path):
    now = time.time()
    live = tmp_path / f".u.data.{os.getpid()}-abcdefgh.tmp"  # a write in progress in this process
    legacy_fresh = tmp_path / ".u.item.k2j4h5g6.tmp"  # old naming, pid unknown, recent
    legacy_old = tmp_path / ".u.user.a1b2c3d4.tmp"  # old naming, two hours old: stale
    foreign = [tmp_path / ".notes.tmp", tmp_path / "draft.tmp", tmp_path / ".x.ABCDEFGH.tmp"]
    for p in [live, legacy_fresh, legacy_old, *foreign]:
        p.write_bytes(b"x")
    os.utime(legacy_old, (now - 2 * ds.STALE_TMP_SECONDS, now - 2 * ds.STALE_TMP_SECONDS))
    os.utime(foreign[0], (now - 2 * ds.STALE_TMP_SECONDS, now - 2 * ds.STALE_TMP_SECONDS))
    assert ds._remove_stale_temporaries(tmp_path) == [legacy_old.name]
    assert all(p.exists() for p in [live, legacy_fresh, *foreign])
    later = now + 2 * ds.STALE_TMP_SECONDS  # everything of ours is stale after the limit
    assert sorted(ds._remove_stale_temporaries(tmp_path, now=later)) == sorted([live.name, legacy_fresh.name])
    assert all(p.exists() for p in foreign)


def test_a_killed_cache_write_is_cleaned_by_the_next_successful_download(serve, tmp_path):
    cache_dir = tmp_path / "home" / "ml-100k"
    cache_dir.mkdir(parents=True)
    assert len(killed_write(cache_dir / ratings_file(serve))) == 1
    load_movielens_100k(tmp_path / "home", sources=(serve,), verbose=False)
    assert not list(cache_dir.glob(".*.tmp"))
    assert load_movielens_100k(tmp_path / "home", sources=("cache",), verbose=False).source == "cache"


def test_the_embedding_cache_uses_the_same_atomic_writer():
    text = pytest.importorskip("recfeat_ref.text")
    assert text._atomic_write is ds._atomic_write
