"""Declared data is fetched by the engine: from the cache, the mirror, or its origin (verified),
never from outside KERAS_HOME, and a failure names the snippet's header line."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlexec.errors import DataMissingError
from dlexec.sources.datasets import DataTooLarge, confined, digest, fetch
from dlexec.sources.snippets import DataFile

CONTENT = b"Month,Passengers\n1949-01,112\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
SNIPPET = Path("snippets/s.py")


@pytest.fixture
def origin() -> Iterator[str]:
    """A loopback HTTP server standing in for a dataset's origin (no network needed)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/data.csv":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(CONTENT)))
            self.end_headers()
            self.wfile.write(CONTENT)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_downloads_from_origin_and_verifies_the_hash(tmp_path: Path, origin: str):
    entry = DataFile("datasets/a.csv", f"{origin}/data.csv", SHA, line=3)
    fetched = fetch([entry], tmp_path / "keras", tmp_path / "no-mirror", SNIPPET)
    assert fetched["datasets/a.csv"].read_bytes() == CONTENT
    assert fetched["datasets/a.csv"].is_relative_to((tmp_path / "keras").resolve())


def test_a_download_with_the_wrong_hash_fails_and_leaves_no_file(tmp_path: Path, origin: str):
    entry = DataFile("datasets/a.csv", f"{origin}/data.csv", "0" * 64, line=4)
    with pytest.raises(DataMissingError) as raised:
        fetch([entry], tmp_path / "keras", tmp_path / "no-mirror", SNIPPET)
    assert str(raised.value).startswith("snippets/s.py:4: data file 'datasets/a.csv' downloaded")
    assert SHA in str(raised.value)
    assert not list((tmp_path / "keras").rglob("*.csv*"))


def test_an_unreachable_origin_says_what_failed_and_what_to_do(tmp_path: Path, origin: str):
    entry = DataFile("datasets/a.csv", f"{origin}/missing.csv", SHA, line=2)
    with pytest.raises(DataMissingError, match=r"s\.py:2: could not download .*BLOG_DATA_MIRROR"):
        fetch([entry], tmp_path / "keras", tmp_path / "no-mirror", SNIPPET)
    assert not list((tmp_path / "keras").rglob("*.csv*"))


def test_the_mirror_comes_before_the_network(tmp_path: Path):
    mirror = tmp_path / "mirror"
    (mirror / "datasets").mkdir(parents=True)
    (mirror / "datasets" / "a.csv").write_bytes(CONTENT)
    entry = DataFile("datasets/a.csv", "http://127.0.0.1:9/unreachable", SHA)
    fetched = fetch([entry], tmp_path / "keras", mirror, SNIPPET)
    assert fetched["datasets/a.csv"].read_bytes() == CONTENT


def test_no_mirror_and_no_origin_names_the_header_line(tmp_path: Path):
    with pytest.raises(DataMissingError, match=r"^snippets/s\.py:5: data file 'x\.csv'.*origin"):
        fetch([DataFile("x.csv", line=5)], tmp_path / "keras", tmp_path / "mirror", SNIPPET)


def test_paths_never_leave_their_base_folder(tmp_path: Path):
    base = tmp_path / "keras"
    base.mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    (base / "link").symlink_to(tmp_path / "outside.txt")
    (base / "pagemap").symlink_to("/proc/self/pagemap")
    assert confined(base, "../outside.txt") is None
    assert confined(base, "link") is None
    assert confined(base, "pagemap") is None
    assert confined(base, "/etc/passwd") is None
    (base / "folder").mkdir()
    assert confined(base, "folder") is None  # not a regular file


def test_digest_reads_at_most_its_bound(tmp_path: Path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 << 20))
    with pytest.raises(DataTooLarge):
        digest(big, limit=1 << 20)
    assert digest(big) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()
