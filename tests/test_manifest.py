import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial

import pytest

from pssr_nb.errors import DownloadError, InputError, UnsafeArchiveError
from pssr_nb.manifest import Dataset, extract, fetch, load_manifest


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over a temporary folder (loopback only)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("PSSR_NB_CACHE", str(path))
    return path


def remote(name, files):
    return Dataset(name=name, kind="remote", files=files)


def test_shipped_manifest_is_complete():
    manifest = load_manifest()
    assert {"phantom_em", "phantom_confocal", "phantom_target"} <= set(manifest)
    for d in manifest.values():
        assert d.license and d.citation and d.modality, d.name
        if d.kind == "remote":
            assert all(f["url"] and "sha256" in f for f in d.files)
        if d.kind == "manual":
            assert d.url or d.doi


def test_the_packaged_manifest_is_the_top_level_one():
    """A plain copy, not a symlink (which Windows checkouts turn into a text file)."""
    from pathlib import Path

    from pssr_nb.manifest import MANIFEST_PATH

    top = Path(__file__).resolve().parents[1] / "data_manifest.yml"
    if not top.exists():
        pytest.skip("not a source checkout")
    assert not MANIFEST_PATH.is_symlink()
    assert MANIFEST_PATH.read_bytes() == top.read_bytes(), (
        "data_manifest.yml was edited: copy it to pssr_nb/data_manifest.yml"
    )


def test_fetch_verifies_the_checksum(server, cache):
    root, url = server
    payload = b"pixels" * 1000
    (root / "img.tif").write_bytes(payload)
    good = remote(
        "good",
        [
            {
                "name": "img.tif",
                "url": f"{url}/img.tif",
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        ],
    )
    folder = fetch(good)
    assert (folder / "img.tif").read_bytes() == payload
    assert folder == cache / "good"

    bad = remote("bad", [{"name": "img.tif", "url": f"{url}/img.tif", "sha256": "0" * 64}])
    with pytest.raises(DownloadError, match="checksum"):
        fetch(bad)
    assert not (cache / "bad" / "img.tif").exists()


def test_fetch_offline_gives_a_clear_message(cache):
    offline = remote(
        "off", [{"name": "a.tif", "url": "http://127.0.0.1:9/a.tif", "sha256": "0" * 64}]
    )
    with pytest.raises(DownloadError, match="offline") as err:
        fetch(offline)
    assert "by hand" in str(err.value)


def test_fetch_extracts_archives(server, cache):
    root, url = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("set/a.txt", "hello")
    (root / "set.zip").write_bytes(buf.getvalue())
    entry = remote(
        "zipped",
        [
            {
                "name": "set.zip",
                "url": f"{url}/set.zip",
                "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
            }
        ],
    )
    folder = fetch(entry)
    assert (folder / "set" / "set" / "a.txt").read_text() == "hello"


def test_path_traversal_in_archives_is_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "ok.txt").exists()


def test_phantom_entries_are_generated_once(cache):
    entry = Dataset(
        name="tiny", kind="phantom", scale=4, extra={"specimen": "em", "size": 64, "n_images": 2}
    )
    folder = fetch(entry)
    assert sorted(p.name for p in (folder / "hr").iterdir()) == ["em_000.tif", "em_001.tif"]
    stamp = (folder / "phantoms.json").stat().st_mtime_ns
    assert fetch(entry) == folder and (folder / "phantoms.json").stat().st_mtime_ns == stamp


def test_manual_and_unknown_datasets(cache):
    manual = Dataset(name="big", kind="manual", url="https://example.org/big", note="Large.")
    with pytest.raises(DownloadError, match="cannot be downloaded automatically"):
        fetch(manual)
    (cache / "big").mkdir(parents=True)
    (cache / "big" / "a.tif").write_bytes(b"x")
    assert fetch(manual) == cache / "big"
    with pytest.raises(InputError, match="No dataset"):
        fetch("no_such_dataset")


def test_bad_manifest_is_reported(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("datasets:\n  x:\n    kind: magic\n")
    with pytest.raises(InputError, match="kind"):
        load_manifest(path)


def _tar(path, members):
    """A tar archive of (name, kind, target-or-text) members."""
    import io
    import tarfile

    with tarfile.open(path, "w") as tf:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = value.encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[
                kind
            ]
            info.linkname = value
            tf.addfile(info)
    return path


#: Archives that wrote outside the cache before (a hard link named relative to the
#: archive's root, symbolic-link chains), or that only the standard library's filter stopped.
EVIL_TARS = {
    "hard link to a file outside": [("data/x", "hard", "../../outside.txt")],
    "hard link then write through it": [
        ("a", "hard", "../outside.txt"),
        ("a", "file", "overwritten"),
    ],
    "symlink chain out of the folder": [
        ("sub/up", "sym", ".."),
        ("sub/upup", "sym", "up/.."),
        ("sub/upup/escaped.txt", "file", "gotcha"),
    ],
    "symlink to an absolute path": [("etc", "sym", "/etc")],
    "a fifo": [("pipe", "fifo", "")],
    "dot-dot path": [("ok.txt", "file", "fine"), ("../escaped.txt", "file", "gotcha")],
}


@pytest.mark.parametrize("name", list(EVIL_TARS))
@pytest.mark.parametrize("python_has_filters", [True, False])
def test_no_tar_archive_writes_outside_its_folder(name, python_has_filters, tmp_path, monkeypatch):
    import tarfile

    if not python_has_filters:  # as on Python 3.10.0-3.10.11 and 3.11.0-3.11.3
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    outside = tmp_path / "outside.txt"
    outside.write_text("mine")
    archive = _tar(tmp_path / "evil.tar", EVIL_TARS[name])
    with pytest.raises(UnsafeArchiveError, match="nothing was extracted") as info:
        extract(archive, tmp_path / "cache" / "out")
    assert info.value.path == archive
    assert outside.read_text() == "mine"
    assert not (tmp_path / "cache").exists()  # checked before anything is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar", "outside.txt"]


def test_a_plain_tar_archive_is_extracted_and_a_damaged_one_named(tmp_path):
    archive = _tar(tmp_path / "ok.tar", [("images/a.txt", "file", "A"), ("b.txt", "file", "B")])
    out = extract(archive, tmp_path / "out")
    assert (out / "images" / "a.txt").read_text() == "A" and (out / "b.txt").read_text() == "B"
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(b"\x1f\x8b\x08" + b"not really gzip" * 20)
    with pytest.raises(DownloadError, match="cannot be read"):
        extract(damaged, tmp_path / "out2")
