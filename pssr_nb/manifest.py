"""The data manifest: which datasets the notebooks can use, and fetching them safely.

``data_manifest.yml`` lists built-in phantom sets (generated on demand), remote
datasets with direct download URLs and checksums, and datasets that must be
downloaded by hand. :func:`fetch` returns a local folder for any of them:

- a ``local`` folder named in the entry, when it exists (pre-staged data);
- for phantoms, a folder generated once into the cache;
- for remote entries, files downloaded with pooch into the cache, each verified
  by sha256 (a wrong checksum leaves nothing behind), archives extracted with
  a guard against paths that escape the folder.

The cache is ``$PSSR_NB_CACHE`` when set, otherwise the platform's user cache.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import yaml

from .errors import DownloadError, InputError, UnsafeArchiveError

__all__ = [
    "CACHE_ENV",
    "KINDS",
    "MANIFEST_PATH",
    "cache_dir",
    "Dataset",
    "extract",
    "fetch",
    "load_manifest",
]

MANIFEST_PATH = Path(__file__).resolve().parent / "data_manifest.yml"
CACHE_ENV = "PSSR_NB_CACHE"
KINDS = ("phantom", "remote", "manual")


@dataclasses.dataclass
class Dataset:
    """One entry of the data manifest (fields as in ``data_manifest.yml``)."""

    name: str
    kind: str
    modality: str = ""
    description: str = ""
    pixel_size_nm: float | None = None
    scale: int | None = None
    paired: bool = False
    license: str = ""
    citation: str = ""
    doi: str | None = None
    url: str | None = None
    note: str = ""
    local: str | None = None
    files: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    lr_token: str | None = None
    hr_token: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    manifest_dir: Path = Path(".")

    def local_path(self) -> Path | None:
        """The staged folder, if the entry names one and it exists."""
        if not self.local:
            return None
        path = Path(self.local)
        path = path if path.is_absolute() else self.manifest_dir / path
        return path if path.is_dir() else None


def load_manifest(path: str | Path | None = None) -> dict[str, Dataset]:
    """Read a data manifest (by default the one shipped with pssr_nb)."""
    path = Path(path) if path else MANIFEST_PATH
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError("Data manifest not found.", path=path) from None
    except yaml.YAMLError as exc:
        raise InputError(f"The data manifest is not valid YAML ({exc}).", path=path) from exc
    known = {f.name for f in dataclasses.fields(Dataset)} - {"name", "extra", "manifest_dir"}
    datasets = {}
    for name, entry in (raw or {}).get("datasets", {}).items():
        if entry.get("kind") not in KINDS:
            raise InputError(
                f"Dataset {name!r} has kind {entry.get('kind')!r}.",
                path=path,
                fix=f"Use one of {KINDS}.",
            )
        fields = {k: v for k, v in entry.items() if k in known}
        extra = {k: v for k, v in entry.items() if k not in known}
        datasets[name] = Dataset(
            name=name, extra=extra, manifest_dir=path.resolve().parent, **fields
        )
    return datasets


def cache_dir() -> Path:
    """Where downloads and generated sample data go (``$PSSR_NB_CACHE`` overrides)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        folder = Path(env).expanduser()
        if folder.exists() and not folder.is_dir():
            raise InputError(
                f"${CACHE_ENV} names a file, not a folder.",
                path=folder,
                fix=f"Point ${CACHE_ENV} at a folder (it is created if missing), or unset it.",
            )
        return folder
    import pooch

    return Path(pooch.os_cache("pssr_nb"))


def fetch(
    name: str | Dataset, manifest: dict[str, Dataset] | None = None, progress: bool = False
) -> Path:
    """Return a local folder holding a dataset, downloading or generating it if needed.

    Parameters
    ----------
    name : str or Dataset
        A dataset name from the manifest, or an entry.
    manifest : dict, optional
        A manifest from :func:`load_manifest`; by default pssr_nb's own.
    progress : bool
        Show a download progress bar.

    Raises
    ------
    DownloadError
        When offline, when a checksum does not match, or for ``manual`` datasets not staged.
    UnsafeArchiveError
        When an archive holds paths outside its folder.
    """
    if isinstance(name, Dataset):
        entry = name
    else:
        manifest = manifest if manifest is not None else load_manifest()
        if name not in manifest:
            raise InputError(
                f"No dataset called {name!r} in the manifest.",
                fix=f"Choose one of: {', '.join(manifest)}.",
            )
        entry = manifest[name]
    staged = entry.local_path()
    if staged is not None:
        return staged
    target = cache_dir() / entry.name
    if entry.kind == "phantom":
        return _generate_phantoms(entry, target)
    if entry.kind == "manual" or not entry.files:
        if target.is_dir() and any(target.iterdir()):
            return target  # downloaded by hand into the cache, as the error below asks
        raise DownloadError(
            f"Dataset {entry.name!r} cannot be downloaded automatically. {entry.note}".strip(),
            path=target,
            fix=f"Download it from {entry.url or entry.doi} and put the files in {target} "
            f"(or point the notebook to their folder).",
        )
    for spec in entry.files:
        _download(spec, target, progress)
    return target


def _generate_phantoms(entry: Dataset, target: Path) -> Path:
    from . import phantoms

    if (target / "phantoms.json").is_file():
        return target
    params = phantoms.SimulateParams(
        specimen=entry.extra.get("specimen", "em"),
        size=int(entry.extra.get("size", 256)),
        scale=int(entry.scale or 4),
        frames=int(entry.extra.get("frames", 1)),
        frame_axis=entry.extra.get("frame_axis", "T"),
        n_images=int(entry.extra.get("n_images", 4)),
        seed=int(entry.extra.get("seed", 0)),
        microscope=entry.extra.get("microscope", ""),
    )
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    phantoms.run(params, tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _download(spec: dict[str, Any], target: Path, progress: bool) -> Path:
    import pooch

    name, url, sha = spec["name"], spec["url"], spec.get("sha256")
    if Path(name).name != name:
        raise UnsafeArchiveError(f"File name {name!r} in the manifest is not a plain name.")
    if sha is None:
        warnings.warn(
            f"{name}: no checksum in the manifest; the download is not verified.", stacklevel=3
        )
    archive = name.endswith((".zip", ".tar", ".tar.gz", ".tgz"))
    final = target / name
    if final.exists() and not archive:
        if sha is None or pooch.file_hash(str(final)) == sha:
            return final
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha}" if sha else None,
            fname=name,
            path=target,
            progressbar=progress,
        )
    except ValueError as exc:  # pooch: hash mismatch (the bad file is not kept)
        raise DownloadError(
            f"The download of {name} does not match its checksum; nothing was kept.",
            path=final,
            fix="Try again later; if it persists the file changed upstream: tell the pssr_nb developers.",
        ) from exc
    except Exception as exc:  # requests' errors for offline/unreachable hosts
        raise DownloadError(
            f"Could not download {name} from {url} ({type(exc).__name__}). Are you offline?",
            path=final,
            fix=f"Connect to the internet, or download the file by hand and put it at {final}.",
        ) from exc
    if archive:
        extract(Path(path), target / Path(name).name.split(".")[0])
    return Path(path)


def extract(archive: Path, dest: Path) -> Path:
    """Extract a zip or tar archive into ``dest``, refusing members that could escape it.

    Every member is checked before anything is written. Image datasets need only files
    and folders, so links of every kind are refused outright: a link's target is where
    path-traversal attacks hide (a hard link named relative to the archive's root, a
    chain of symbolic links), and checking targets is what went wrong before. Where
    Python has tar extraction filters (3.10.12+, 3.11.4+), the ``data`` filter is applied
    as well.

    Raises
    ------
    UnsafeArchiveError
        For absolute paths, ``..`` leading outside ``dest``, links, devices and other
        special members; nothing is extracted then.
    """
    dest = Path(dest)
    root = dest.resolve()

    def refuse(member: str, why: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(
            f"The archive member {member!r} {why}; nothing was extracted.",
            path=archive,
            fix="Do not use this archive; it may be malicious or damaged.",
        )

    def check(member: str) -> None:
        if Path(member).is_absolute() or not (root / member).resolve().is_relative_to(root):
            raise refuse(member, "would be written outside the extraction folder")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                check(info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise refuse(info.filename, "is a link")
            dest.mkdir(parents=True, exist_ok=True)
            zf.extractall(dest)
        return dest
    try:
        tf = tarfile.open(archive)
        members = tf.getmembers()
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DownloadError(
            f"This archive cannot be read ({exc}).",
            path=archive,
            fix="Delete it and download it again.",
        ) from exc
    with tf:
        for m in members:
            check(m.name)
            if m.issym() or m.islnk():
                raise refuse(m.name, f"is a link (to {m.linkname!r})")
            if not (m.isfile() or m.isdir()):
                raise refuse(m.name, "is a device or special file")
        dest.mkdir(parents=True, exist_ok=True)
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(dest, members=members, **kwargs)
    return dest
