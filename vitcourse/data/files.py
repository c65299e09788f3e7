"""Dataset files on disk: checksums, downloads (only when asked) and clear errors when missing.

Every loader verifies a file against a published checksum before it reads a byte of it, so a
truncated download or a different dataset under the same name fails loudly instead of training on
garbage. `download_url` is the only function here that touches the network; tests replace it.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.request
from pathlib import Path


class ChecksumError(ValueError):
    """A dataset file's digest differs from the published one (corrupt, truncated or wrong file)."""


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path, checksum: tuple[str, str]) -> None:
    """Raise ChecksumError unless `path` has the digest `checksum = (algorithm, hexdigest)`."""
    algorithm, expected = checksum
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{algorithm} of {path} is {actual} but the published {algorithm} is {expected}: the file "
            f"is corrupt, truncated or not the expected one. Delete it and download it again "
            f"(download=True) or replace it with the original file.")


def download_url(url: str, path, timeout: float = 60.0) -> None:
    """Download `url` to `path` (through a `.part` file, so an interrupted download leaves nothing)."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "vitcourse"})
    print(f"downloading {url} -> {path}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as f:
            shutil.copyfileobj(response, f, length=1 << 20)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def fetch(urls, path, checksum: tuple[str, str]) -> None:
    """Download `path` from the first of `urls` that answers, then verify it.

    Raises ConnectionError (naming every URL tried and why it failed) when none answers, e.g. offline.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        try:
            download_url(url, path)
        except (OSError, http.client.HTTPException) as err:   # URLError, HTTPError, timeouts
            errors.append(f"{url}: {err}")
            continue
        try:
            verify(path, checksum)
        except ChecksumError:
            path.unlink()                                    # never leave a bad file behind
            raise
        return
    raise ConnectionError(
        f"could not download {path.name} (no network?). Tried:\n  " + "\n  ".join(errors) +
        f"\nDownload it on a machine with internet and place it at {path}.")


def missing_error(dataset: str, root: Path, missing, source: str) -> FileNotFoundError:
    """The error a loader raises when its files are absent and download=False."""
    return FileNotFoundError(
        f"{dataset} files not found in {root}: missing {', '.join(missing)}. Pass download=True to "
        f"download them (from {source}), or place the standard files in {root} yourself.")
