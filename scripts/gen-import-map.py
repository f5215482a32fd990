#!/usr/bin/env python3
"""Generate data/import-map.tsv: import prefix -> PyPI distribution -> rank.

For each project in data/top-pypi.tsv this script asks the PyPI JSON API for
the project's files, picks one wheel, reads only the wheel's zip central
directory (HTTP Range requests; whole wheels are never downloaded), and
derives the import roots the wheel installs:

  * `pkg/__init__.py` (or `__init__.pyi`, `__init__.*.so`, ...)  -> `pkg`
  * a directory without `__init__` is a namespace package: descend until the
    first regular packages or modules, e.g. `google/protobuf/__init__.py`
    -> `google.protobuf`, `x/y.py` -> `x.y`
  * a top-level module file: `six.py` -> `six`,
    `_yaml.cpython-311-x86_64-linux-gnu.so` -> `_yaml`
  * ignored: `*.dist-info/`, `*.data/` (except `*.data/purelib/` and
    `*.data/platlib/`, whose contents count as top level), `__pycache__`,
    non-identifier names, `.pth` files and junk such as `tests`, `docs`.

Python 3.11+, standard library only. Results per project are cached in a JSON
file (default /tmp/mlpack-import-map-cache.json) so an interrupted run
resumes quickly; failures are not cached and are retried on the next run.

Usage:
  python3 scripts/gen-import-map.py [--top data/top-pypi.tsv]
      [--out data/import-map.tsv] [--cache PATH] [--workers 32]
      [--limit N] [--only NAME ...] [--date YYYY-MM-DD]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import keyword
import os
import re
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed

PYPI_JSON = "https://pypi.org/pypi/{name}/json"
USER_AGENT = "mlpack-gen-import-map/1 (+scripts/gen-import-map.py)"
TIMEOUT = 30
RETRIES = 3
TAIL_BYTES = 65536
CACHE_VERSION = 1

# Top-level (or namespace-level) names that wheels ship but that are not the
# project's import names.
JUNK_NAMES = frozenset(
    {
        "tests", "test", "testing", "docs", "doc", "examples", "example",
        "benchmarks", "bench", "scripts", "tools", "src", "build",
        "licenses", "LICENSES",
    }
)

# ---------------------------------------------------------------------------
# names


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_ident(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


# ---------------------------------------------------------------------------
# wheel choice

# Platform tags of the one platform we care about (a Linux x86_64 container).
_LINUX_X86_64 = re.compile(r"^(manylinux[0-9_]*_x86_64|manylinux1_x86_64|linux_x86_64)$")


def wheel_tags(filename: str):
    """(python tags, abi tags, platform tags) of a wheel file name, or None."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return None
    py, abi, plat = parts[-3], parts[-2], parts[-1]
    return set(py.split(".")), set(abi.split(".")), set(plat.split("."))


def wheel_score(filename: str):
    """Lower is better; None if not a wheel."""
    tags = wheel_tags(filename)
    if tags is None:
        return None
    py, abi, plat = tags
    if abi == {"none"} and plat == {"any"}:
        if "py3" in py:
            return 0
        return 5  # pure but e.g. py2-only or cp-specific: still a file list
    if any(_LINUX_X86_64.match(p) for p in plat):
        if "cp311" in py and "cp311" in abi:
            return 1
        if "cp312" in py and "cp312" in abi:
            return 2
        if "abi3" in abi:
            return 3
        return 4
    return 6


def pick_wheel(files: list[dict]):
    best = None
    for f in files:
        fn = f.get("filename") or ""
        if f.get("yanked"):
            continue
        if f.get("packagetype") not in (None, "bdist_wheel") and not fn.endswith(".whl"):
            continue
        score = wheel_score(fn)
        if score is None:
            continue
        key = (score, fn)
        if best is None or key < best[0]:
            best = (key, f)
    return best[1] if best else None


def choose_wheel(meta: dict):
    """(file dict, version) of the wheel to read, or (None, None) if none."""
    version = (meta.get("info") or {}).get("version")
    f = pick_wheel(meta.get("urls") or [])
    if f is not None:
        return f, version
    # No wheel in the latest release: newest older release that has one.
    # Releases are ordered by their newest upload time (no version parsing).
    rels = []
    for ver, files in (meta.get("releases") or {}).items():
        if not files:
            continue
        newest = max((x.get("upload_time_iso_8601") or x.get("upload_time") or "") for x in files)
        rels.append((newest, ver, files))
    rels.sort(reverse=True)
    for _, ver, files in rels:
        f = pick_wheel(files)
        if f is not None:
            return f, ver
    return None, None


# ---------------------------------------------------------------------------
# HTTP


class HTTPFail(Exception):
    def __init__(self, msg: str, retry: bool = True):
        super().__init__(msg)
        self.retry = retry


def _request(url: str, headers: dict | None = None, max_body: int | None = None):
    """One GET; returns (status, headers, body)."""
    h = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if headers:
        h.update(headers)
    req = urllib.request.Request(url, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            status = resp.status
            if max_body is not None and status == 200:
                # A server that ignored our Range: refuse to read a big file.
                length = resp.headers.get("Content-Length")
                if length is None or int(length) > max_body:
                    raise HTTPFail(f"server ignored Range (status 200, length {length})", retry=False)
            body = resp.read()
            return status, resp.headers, body
    except urllib.error.HTTPError as e:
        retry = e.code in (408, 425, 429) or e.code >= 500
        raise HTTPFail(f"HTTP {e.code} for {url}", retry=retry) from None
    except HTTPFail:
        raise
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as e:
        raise HTTPFail(f"{type(e).__name__}: {e} for {url}") from None


def get(url: str, headers: dict | None = None, max_body: int | None = None):
    delay = 1.0
    for attempt in range(RETRIES):
        try:
            return _request(url, headers, max_body)
        except HTTPFail as e:
            if not e.retry or attempt == RETRIES - 1:
                raise
            time.sleep(delay)
            delay *= 3
    raise AssertionError("unreachable")


def get_range(url: str, start: int | None, end: int | None):
    """Bytes of `url` in [start, end] (inclusive); start None = suffix of `end` bytes.

    Returns (offset of first returned byte, total size, data).
    """
    if start is None:
        rng = f"bytes=-{end}"
    else:
        rng = f"bytes={start}-{end}"
    status, hdrs, body = get(url, {"Range": rng}, max_body=max(TAIL_BYTES, 1 << 20))
    if status == 206:
        cr = hdrs.get("Content-Range") or ""
        m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", cr)
        if not m:
            raise HTTPFail(f"bad Content-Range {cr!r} for {url}", retry=False)
        first = int(m.group(1))
        total = int(m.group(3)) if m.group(3) != "*" else None
        if total is None:
            raise HTTPFail(f"unknown total size for {url}", retry=False)
        return first, total, body
    if status == 200:  # small file sent whole
        return 0, len(body), body
    raise HTTPFail(f"unexpected status {status} for {url}", retry=False)


# ---------------------------------------------------------------------------
# zip central directory

EOCD_SIG = b"PK\x05\x06"
ZIP64_LOC_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
CDH_SIG = b"PK\x01\x02"
CDH = struct.Struct("<4sHHHHHHLLLHHHHHLL")  # 46 bytes
EOCD = struct.Struct("<4sHHHHLLH")  # 22 bytes
ZIP64_LOC = struct.Struct("<4sLQL")  # 20 bytes
ZIP64_EOCD = struct.Struct("<4sQHHLLQQQQ")  # 56 bytes


class ZipError(Exception):
    pass


def find_eocd(tail: bytes, tail_start: int):
    """Parse the EOCD (and ZIP64 EOCD locator) found in `tail`.

    Returns dict(cd_offset, cd_size, entries, eocd_abs, zip64_eocd_abs).
    cd_offset/cd_size/entries may be None when the ZIP64 record must be read.
    """
    pos = tail.rfind(EOCD_SIG)
    while pos >= 0:
        if pos + EOCD.size <= len(tail):
            sig, disk, cd_disk, n_here, n_total, cd_size, cd_off, clen = EOCD.unpack_from(tail, pos)
            if pos + EOCD.size + clen == len(tail):
                break
        pos = tail.rfind(EOCD_SIG, 0, pos)
    if pos < 0:
        raise ZipError("no end-of-central-directory record in the tail")
    info = {
        "cd_offset": cd_off,
        "cd_size": cd_size,
        "entries": n_total,
        "eocd_abs": tail_start + pos,
        "zip64_eocd_abs": None,
    }
    loc = pos - ZIP64_LOC.size
    if loc >= 0 and tail[loc : loc + 4] == ZIP64_LOC_SIG:
        _, _, z64_off, _ = ZIP64_LOC.unpack_from(tail, loc)
        info["zip64_eocd_abs"] = z64_off
        info["cd_offset"] = info["cd_size"] = info["entries"] = None
    elif cd_off == 0xFFFFFFFF or cd_size == 0xFFFFFFFF or n_total == 0xFFFF:
        raise ZipError("ZIP64 values without a ZIP64 locator")
    return info


def parse_zip64_eocd(buf: bytes, pos: int):
    if buf[pos : pos + 4] != ZIP64_EOCD_SIG:
        raise ZipError("bad ZIP64 end-of-central-directory signature")
    _, _, _, _, _, _, _, n_total, cd_size, cd_off = ZIP64_EOCD.unpack_from(buf, pos)
    return cd_off, cd_size, n_total


class Entry:
    __slots__ = ("name", "method", "csize", "usize", "offset")

    def __init__(self, name, method, csize, usize, offset):
        self.name, self.method, self.csize, self.usize, self.offset = name, method, csize, usize, offset


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int):
    pos = 0
    while pos + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, pos)
        if hid == 0x0001:
            vals = extra[pos + 4 : pos + 4 + size]
            i = 0
            if usize == 0xFFFFFFFF and i + 8 <= len(vals):
                usize = struct.unpack_from("<Q", vals, i)[0]
                i += 8
            if csize == 0xFFFFFFFF and i + 8 <= len(vals):
                csize = struct.unpack_from("<Q", vals, i)[0]
                i += 8
            if offset == 0xFFFFFFFF and i + 8 <= len(vals):
                offset = struct.unpack_from("<Q", vals, i)[0]
            break
        pos += 4 + size
    return usize, csize, offset


def parse_central_directory(buf: bytes, n_entries: int | None):
    entries = []
    pos = 0
    while pos + CDH.size <= len(buf) and buf[pos : pos + 4] == CDH_SIG:
        (_, _, _, flags, method, _, _, _, csize, usize, nlen, xlen, clen, _, _, _, offset) = CDH.unpack_from(buf, pos)
        raw = buf[pos + CDH.size : pos + CDH.size + nlen]
        if len(raw) < nlen:
            raise ZipError("truncated central directory")
        if flags & 0x800:
            name = raw.decode("utf-8", "replace")
        else:
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = raw.decode("cp437")
        if 0xFFFFFFFF in (csize, usize, offset):
            extra = buf[pos + CDH.size + nlen : pos + CDH.size + nlen + xlen]
            usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        entries.append(Entry(name, method, csize, usize, offset))
        pos += CDH.size + nlen + xlen + clen
    if n_entries is not None and len(entries) != n_entries:
        raise ZipError(f"central directory has {len(entries)} entries, EOCD says {n_entries}")
    return entries


LFH = struct.Struct("<4sHHHHHLLLHH")  # 30 bytes


def read_member(url: str, e: Entry, base: int = 0) -> bytes | None:
    """Content of one (small) member, by a Range request; None if unreadable."""
    if e.method not in (0, 8):
        return None
    start = base + e.offset
    want = LFH.size + len(e.name.encode("utf-8")) + e.csize + 1024
    first, _, data = get_range(url, start, start + want - 1)
    data = data[start - first :]
    if len(data) < LFH.size or data[:4] != b"PK\x03\x04":
        return None
    (_, _, _, _, _, _, _, _, _, nlen, xlen) = LFH.unpack_from(data, 0)
    begin = LFH.size + nlen + xlen
    if len(data) < begin + e.csize:
        first, _, data2 = get_range(url, start + begin, start + begin + e.csize - 1)
        comp = data2[start + begin - first :][: e.csize]
    else:
        comp = data[begin : begin + e.csize]
    if e.method == 0:
        return comp
    try:
        return zlib.decompressobj(-15).decompress(comp, e.usize + 1)
    except zlib.error:
        return None


def wheel_entries(url: str):
    """(central directory entries, base offset) of the wheel at `url`.

    Reads only the tail of the file and, if needed, the central directory.
    """
    tail_start, total, tail = get_range(url, None, TAIL_BYTES)
    info = find_eocd(tail, tail_start)

    def have(a: int, b: int) -> bool:  # [a, b) already in `tail`
        return a >= tail_start and b <= tail_start + len(tail)

    base = 0
    if info["zip64_eocd_abs"] is not None:
        z = info["zip64_eocd_abs"]
        if have(z, z + ZIP64_EOCD.size):
            cd_off, cd_size, n = parse_zip64_eocd(tail, z - tail_start)
        else:
            first, _, data = get_range(url, z, z + ZIP64_EOCD.size - 1)
            cd_off, cd_size, n = parse_zip64_eocd(data, z - first)
    else:
        cd_off, cd_size, n = info["cd_offset"], info["cd_size"], info["entries"]
        # The central directory ends where the EOCD starts; if the stored
        # offset disagrees, bytes were prepended to the archive.
        real = info["eocd_abs"] - cd_size
        if real != cd_off and real >= 0:
            base = real - cd_off
            cd_off = real
    if cd_size == 0:
        return [], base
    if have(cd_off, cd_off + cd_size):
        cd = tail[cd_off - tail_start : cd_off - tail_start + cd_size]
    else:
        first, _, data = get_range(url, cd_off, cd_off + cd_size - 1)
        cd = data[cd_off - first : cd_off - first + cd_size]
    if len(cd) != cd_size:
        raise ZipError("short read of the central directory")
    return parse_central_directory(cd, n), base


# ---------------------------------------------------------------------------
# import roots


def module_name(filename: str):
    """Import name of a module file name, or None if it is not a module.

    `.py`/`.pyc` -> stem; `.so`/`.pyd` -> the part before the first dot.
    `.pyi` stubs and `.pth` files are not modules.
    """
    if filename.endswith(".py") or filename.endswith(".pyc"):
        stem = filename.rsplit(".", 1)[0]
        return stem if "." not in stem else None
    if filename.endswith(".so") or filename.endswith(".pyd"):
        return filename.split(".", 1)[0]
    return None


def _is_init(filename: str) -> bool:
    if filename in ("__init__.py", "__init__.pyi", "__init__.pyc", "__init__.so", "__init__.pyd"):
        return True
    return filename.startswith("__init__.") and (filename.endswith(".so") or filename.endswith(".pyd"))


# An old-style namespace package ships an `__init__.py` that only extends its
# __path__ (pkgutil) or declares the namespace (pkg_resources).
_NS_INIT = re.compile(rb"extend_path\s*\(|declare_namespace\s*\(")
NS_INIT_MAX = 2048  # bytes; such __init__.py files are a few lines


class _Dir:
    __slots__ = ("files", "dirs")

    def __init__(self):
        self.files: dict[str, object] = {}  # file name -> entry (or None)
        self.dirs: dict[str, _Dir] = {}


def _has_python(node: _Dir) -> bool:
    return any(module_name(f) for f in node.files) or any(_has_python(d) for d in node.dirs.values())


def _is_old_namespace(node: _Dir, read) -> bool:
    """True if `node` looks like a pkgutil/pkg_resources namespace package.

    Only a directory whose single file is a small `__init__.py` next to
    subdirectories is a candidate; its content is then read (one Range
    request) and checked for extend_path/declare_namespace.
    """
    if read is None or not node.dirs:
        return False
    files = [f for f in node.files if f not in ("py.typed",)]
    if files != ["__init__.py"]:
        return False
    e = node.files["__init__.py"]
    if e is None or getattr(e, "usize", NS_INIT_MAX + 1) > NS_INIT_MAX:
        return False
    data = read(e)
    return bool(data) and _NS_INIT.search(data) is not None


def _walk(node: _Dir, prefix: tuple, out: set, dropped: set, notes: set, read):
    for fname in sorted(node.files):
        mod = module_name(fname)
        if mod is None or mod in ("__init__", "__main__"):
            continue
        if not is_ident(mod) or mod in JUNK_NAMES:
            dropped.add("/".join(prefix + (fname,)))
            continue
        out.add(".".join(prefix + (mod,)))
    for dname in sorted(node.dirs):
        sub = node.dirs[dname]
        if not is_ident(dname) or dname in JUNK_NAMES:
            # `<dist>.libs/` holds libraries vendored by auditwheel: expected.
            if not dname.endswith(".libs") and _has_python(sub):
                dropped.add("/".join(prefix + (dname,)) + "/")
            continue
        if any(_is_init(f) for f in sub.files):
            if _is_old_namespace(sub, read):
                notes.add("namespace:" + ".".join(prefix + (dname,)))
                _walk(sub, prefix + (dname,), out, dropped, notes, read)
            else:
                out.add(".".join(prefix + (dname,)))
        else:
            _walk(sub, prefix + (dname,), out, dropped, notes, read)


def import_roots(entries, read=None):
    """Import roots of a wheel.

    `entries`: file names (str) or central directory Entry objects.
    `read`: optional function Entry -> bytes, used to look inside small
    `__init__.py` files that may be old-style namespace declarations.
    Returns (sorted roots, sorted dropped names, sorted notes).
    """
    root = _Dir()
    for e in entries:
        name = e if isinstance(e, str) else e.name
        ent = None if isinstance(e, str) else e
        name = name.replace("\\", "/")
        if name.endswith("/"):
            continue  # directory entry
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if not parts:
            continue
        top = parts[0]
        if top.endswith(".dist-info") or top.endswith(".egg-info"):
            continue
        if top.endswith(".data"):
            if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                parts = parts[2:]
            else:
                continue
        if "__pycache__" in parts:
            continue
        node = root
        for d in parts[:-1]:
            node = node.dirs.setdefault(d, _Dir())
        node.files[parts[-1]] = ent
    out: set = set()
    dropped: set = set()
    notes: set = set()
    _walk(root, (), out, dropped, notes, read)
    return sorted(out), sorted(dropped), sorted(notes)


# ---------------------------------------------------------------------------
# per project


def process(name: str) -> dict:
    page = PYPI_JSON.format(name=urllib.parse.quote(name))
    try:
        _, _, body = get(page)
    except HTTPFail as e:
        if "HTTP 404" in str(e):
            return {"status": "not-found"}
        raise
    meta = json.loads(body)
    f, version = choose_wheel(meta)
    if f is None:
        return {"status": "sdist-only", "version": (meta.get("info") or {}).get("version")}
    url = urllib.parse.urljoin(page, f["url"])
    entries, base = wheel_entries(url)
    roots, dropped, notes = import_roots(entries, lambda e: read_member(url, e, base))
    return {
        "status": "ok",
        "version": version,
        "wheel": f["filename"],
        "files": len(entries),
        "roots": roots,
        "dropped": dropped,
        "notes": notes,
    }


# ---------------------------------------------------------------------------
# main


def read_top(path: str):
    projects = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            rank, name = line.split("\t")[:2]
            projects.append((int(rank), name))
    return projects


def load_cache(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("version") == CACHE_VERSION:
            return data.get("projects", {})
    except (OSError, ValueError):
        pass
    return {}


def save_cache(path: str, projects: dict):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"version": CACHE_VERSION, "projects": projects}, fh, sort_keys=True)
    os.replace(tmp, path)


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--top", default=os.path.join(repo, "data", "top-pypi.tsv"))
    ap.add_argument("--out", default=os.path.join(repo, "data", "import-map.tsv"))
    ap.add_argument("--cache", default="/tmp/mlpack-import-map-cache.json")
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--limit", type=int, help="only the first N projects of --top")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="only these projects (must be in --top)")
    ap.add_argument("--date", help="date for the header (default: today, UTC)")
    ap.add_argument("--projects", metavar="FILE",
                    help="only the first --head projects of --top plus the names in FILE "
                         "(whitespace-separated, # comments)")
    ap.add_argument("--head", type=int, default=250, help="with --projects: how many of --top to keep")
    args = ap.parse_args(argv)

    top = read_top(args.top)
    total_top = len(top)
    if args.limit is not None:
        top = top[: args.limit]
    if args.projects:
        with open(args.projects, encoding="utf-8") as fh:
            listed = {normalize(w) for line in fh if not line.startswith("#") for w in line.split()}
        head = {normalize(n) for _, n in top[: args.head]}
        args.only = sorted(listed | head)
    if args.only:
        wanted = {normalize(n) for n in args.only}
        top = [(r, n) for r, n in top if normalize(n) in wanted]
        missing = wanted - {normalize(n) for _, n in top}
        if missing:
            print(f"not in {args.top}: {', '.join(sorted(missing))}", file=sys.stderr)
    cache = load_cache(args.cache)
    lock = threading.Lock()
    todo = [(r, n) for r, n in top if normalize(n) not in cache]
    print(f"{len(top)} projects, {len(top) - len(todo)} cached, {len(todo)} to fetch", file=sys.stderr)

    failures: dict[str, str] = {}
    done = 0
    if todo:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            futs = {pool.submit(process, n): n for _, n in todo}
            for fut in as_completed(futs):
                n = futs[fut]
                key = normalize(n)
                try:
                    res = fut.result()
                except Exception as e:  # keep going on any failure
                    failures[key] = f"{type(e).__name__}: {e}"
                    print(f"FAIL {n}: {failures[key]}", file=sys.stderr)
                    continue
                with lock:
                    cache[key] = res
                    done += 1
                    if done % 100 == 0:
                        save_cache(args.cache, cache)
                        print(f"... {done}/{len(todo)}", file=sys.stderr)
        save_cache(args.cache, cache)

    rows = set()
    counts = {"ok": 0, "ok-no-roots": 0, "sdist-only": 0, "not-found": 0}
    dropped_names: dict[str, int] = {}
    for rank, n in top:
        key = normalize(n)
        res = cache.get(key)
        if res is None:
            continue
        st = res["status"]
        if st == "ok":
            if res["roots"]:
                counts["ok"] += 1
            else:
                counts["ok-no-roots"] += 1
            for root in res["roots"]:
                rows.add((root, key, rank))
            for d in res.get("dropped", []):
                if d.endswith(".libs/"):
                    continue
                last = d.rstrip("/").rsplit("/", 1)[-1] + ("/" if d.endswith("/") else "")
                dropped_names[last] = dropped_names.get(last, 0) + 1
        else:
            counts[st] = counts.get(st, 0) + 1

    date = args.date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    if len(top) == total_top:
        what = f"the top {total_top} PyPI projects"
    else:
        what = f"{len(top)} selected projects among the top {total_top} PyPI projects"
    with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"# generated by scripts/gen-import-map.py from wheel file lists of {what} on {date}\n")
        fh.write("# columns: import prefix, distribution, download rank\n")
        for root, dist, rank in sorted(rows, key=lambda r: (r[0], r[2], r[1])):
            fh.write(f"{root}\t{dist}\t{rank}\n")

    imports = {r[0] for r in rows}
    print(
        f"summary: {len(top)} projects; {counts['ok']} with import roots, "
        f"{counts['ok-no-roots']} wheels without importable roots, "
        f"{counts['sdist-only']} sdist-only skipped, {counts['not-found']} not found, "
        f"{len(failures)} failures; {len(rows)} rows, {len(imports)} distinct import prefixes "
        f"-> {args.out}",
        file=sys.stderr,
    )
    if dropped_names:
        common = sorted(dropped_names.items(), key=lambda kv: (-kv[1], kv[0]))[:25]
        print("dropped names (count): " + ", ".join(f"{k} ({v})" for k, v in common), file=sys.stderr)
    if failures:
        print("failures: " + ", ".join(sorted(failures)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
