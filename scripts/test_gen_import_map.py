#!/usr/bin/env python3
"""Offline tests of scripts/gen-import-map.py (no registry is contacted).

Wheels are built in memory and served from a Range-capable HTTP server on
127.0.0.1, next to a fake JSON API that gives relative file URLs.

Run: python3 scripts/test_gen_import_map.py
"""
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import threading
import unittest
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen_import_map", os.path.join(HERE, "gen-import-map.py"))
gim = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gim)

FILES: dict[str, bytes] = {}  # path -> content
REQUESTS: list[tuple[str, str | None]] = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        REQUESTS.append((self.path, self.headers.get("Range")))
        body = FILES.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        rng = self.headers.get("Range")
        if rng:
            m = re.match(r"bytes=(\d*)-(\d*)$", rng)
            a, b = m.group(1), m.group(2)
            n = len(body)
            if a == "":
                start, end = max(0, n - int(b)), n - 1
            else:
                start, end = int(a), min(int(b) if b else n - 1, n - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{n}")
            part = body[start : end + 1]
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_wheel(files: dict, pad: int = 0, zip64: bool = False) -> bytes:
    buf = io.BytesIO()
    old = zipfile.ZIP_FILECOUNT_LIMIT
    if zip64:
        zipfile.ZIP_FILECOUNT_LIMIT = 1  # force the ZIP64 end records
    try:
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            if pad:
                # an incompressible member, so the central directory lies
                # outside the first 64 KiB tail request
                z.writestr("pad/blob.bin", os.urandom(pad), compress_type=zipfile.ZIP_STORED)
            for name, content in files.items():
                z.writestr(name, content)
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = old
    return buf.getvalue()


class Server:
    def __enter__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()


class RootsTest(unittest.TestCase):
    def roots(self, names):
        return gim.import_roots(names)[0]

    def test_regular_and_modules(self):
        names = [
            "sklearn/__init__.py", "sklearn/svm/__init__.py", "six.py",
            "_yaml.cpython-311-x86_64-linux-gnu.so", "yaml/__init__.py",
            "foo-1.0.dist-info/RECORD", "foo-1.0.dist-info/METADATA",
            "distutils-precedence.pth", "stub.pyi",
        ]
        self.assertEqual(self.roots(names), ["_yaml", "six", "sklearn", "yaml"])

    def test_namespaces(self):
        names = [
            "google/protobuf/__init__.py", "google/protobuf/message.py",
            "google/cloud/storage/__init__.py", "google/cloud/storage/blob.py",
            "azure/storage/blob/__init__.py", "x/y.py", "a/b/c/d.cpython-312-x86_64-linux-gnu.so",
            "ns/__init__.pyi", "ns/sub/__init__.py",
        ]
        self.assertEqual(
            self.roots(names),
            ["a.b.c.d", "azure.storage.blob", "google.cloud.storage", "google.protobuf", "ns", "x.y"],
        )

    def test_junk_and_data(self):
        names = [
            "tests/__init__.py", "docs/conf.py", "examples/a.py", "my-pkg/__init__.py",
            "pkg/__init__.py", "pkg/__pycache__/x.cpython-311.pyc", "__pycache__/top.cpython-311.pyc",
            "numpy.libs/libopenblas-abc.so", "bad-name.py", "__init__.py", "__main__.py",
            "foo-1.0.data/purelib/purething/__init__.py",
            "foo-1.0.data/platlib/_fast.cpython-311-x86_64-linux-gnu.so",
            "foo-1.0.data/scripts/tool", "foo-1.0.data/data/share/x.py",
            "ns/tests/__init__.py", "ns/real/__init__.py", "_private.py", "src/pkg2/__init__.py",
            "class/__init__.py",
        ]
        roots, dropped, _ = gim.import_roots(names)
        self.assertEqual(roots, ["_fast", "_private", "ns.real", "pkg", "purething"])
        self.assertIn("tests/", dropped)
        self.assertIn("ns/tests/", dropped)
        self.assertNotIn("numpy.libs/", dropped)  # auditwheel's vendored libs: expected
        self.assertIn("bad-name.py", dropped)

    def test_normalize(self):
        self.assertEqual(gim.normalize("Foo__Bar.baz-Qux"), "foo-bar-baz-qux")
        self.assertEqual(gim.normalize("PyYAML"), "pyyaml")


class WheelChoiceTest(unittest.TestCase):
    def f(self, fn, t="2024-01-01T00:00:00"):
        return {"filename": fn, "url": fn, "packagetype": "bdist_wheel" if fn.endswith(".whl") else "sdist",
                "upload_time_iso_8601": t, "yanked": False}

    def test_prefers_pure(self):
        files = [self.f("a-1.tar.gz"), self.f("a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
                 self.f("a-1-py3-none-any.whl")]
        self.assertEqual(gim.pick_wheel(files)["filename"], "a-1-py3-none-any.whl")

    def test_prefers_cp311_linux(self):
        files = [self.f("a-1-cp310-cp310-win_amd64.whl"),
                 self.f("a-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
                 self.f("a-1-cp311-cp311-macosx_11_0_arm64.whl"),
                 self.f("a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
                 self.f("a-1-cp38-abi3-manylinux_2_28_x86_64.whl")]
        self.assertEqual(gim.pick_wheel(files)["filename"],
                         "a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
        files = files[:1] + files[2:3] + files[4:]
        self.assertEqual(gim.pick_wheel(files)["filename"], "a-1-cp38-abi3-manylinux_2_28_x86_64.whl")
        self.assertEqual(gim.pick_wheel(files[:2])["filename"], "a-1-cp310-cp310-win_amd64.whl")

    def test_older_release(self):
        meta = {"info": {"version": "2.0"}, "urls": [self.f("a-2.0.tar.gz", "2024-05-01T00:00:00")],
                "releases": {
                    "2.0": [self.f("a-2.0.tar.gz", "2024-05-01T00:00:00")],
                    "1.9": [self.f("a-1.9-py3-none-any.whl", "2024-03-01T00:00:00")],
                    "1.10": [self.f("a-1.10-py3-none-any.whl", "2024-04-01T00:00:00")],
                    "0.1": []}}
        f, ver = gim.choose_wheel(meta)
        self.assertEqual((f["filename"], ver), ("a-1.10-py3-none-any.whl", "1.10"))
        meta["releases"] = {"2.0": meta["urls"]}
        self.assertEqual(gim.choose_wheel(meta), (None, None))


class HTTPTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def setUp(self):
        REQUESTS.clear()

    def test_small_wheel(self):
        FILES["/w/small.whl"] = make_wheel({"six.py": "x=1\n", "six-1.dist-info/RECORD": ""})
        entries, base = gim.wheel_entries(self.server.base + "/w/small.whl")
        self.assertEqual([e.name for e in entries], ["six.py", "six-1.dist-info/RECORD"])
        self.assertEqual(len(REQUESTS), 1)

    def test_big_wheel_second_request(self):
        many = {f"pkg/mod{i:05d}.py": "" for i in range(3000)}  # CD > 64 KiB
        many["pkg/__init__.py"] = ""
        FILES["/w/big.whl"] = make_wheel(many, pad=200_000)
        entries, _ = gim.wheel_entries(self.server.base + "/w/big.whl")
        self.assertEqual(len(entries), 3002)
        self.assertEqual(len(REQUESTS), 2)
        self.assertEqual(REQUESTS[0][1], "bytes=-65536")
        self.assertEqual(gim.import_roots(entries)[0], ["pkg"])

    def test_zip64(self):
        FILES["/w/z64.whl"] = make_wheel({"a/__init__.py": "", "b.py": ""}, pad=100_000, zip64=True)
        data = FILES["/w/z64.whl"]
        self.assertIn(b"PK\x06\x06", data[-200:])
        entries, _ = gim.wheel_entries(self.server.base + "/w/z64.whl")
        self.assertEqual(sorted(e.name for e in entries), ["a/__init__.py", "b.py", "pad/blob.bin"])

    def test_old_style_namespace(self):
        ns = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
        FILES["/w/ns.whl"] = make_wheel({
            "zope/__init__.py": ns, "zope/interface/__init__.py": "",
            "real/__init__.py": "from . import sub\n", "real/sub/__init__.py": "",
        }, pad=100_000)
        url = self.server.base + "/w/ns.whl"
        entries, base = gim.wheel_entries(url)
        roots, _, notes = gim.import_roots(entries, lambda e: gim.read_member(url, e, base))
        self.assertEqual(roots, ["real", "zope.interface"])
        self.assertEqual(notes, ["namespace:zope"])

    def test_process_relative_urls_and_cache(self):
        FILES["/pypi/demo-pkg/json"] = json.dumps({
            "info": {"version": "1.0"},
            "urls": [{"filename": "demo_pkg-1.0-py3-none-any.whl", "packagetype": "bdist_wheel",
                      "url": "../../files/demo_pkg-1.0-py3-none-any.whl", "yanked": False,
                      "upload_time_iso_8601": "2024-01-01T00:00:00Z"}],
            "releases": {}}).encode()
        FILES["/files/demo_pkg-1.0-py3-none-any.whl"] = make_wheel(
            {"google/cloud/demo/__init__.py": "", "demo_pkg-1.0.dist-info/RECORD": ""})
        FILES["/pypi/only-sdist/json"] = json.dumps({
            "info": {"version": "1"}, "urls": [{"filename": "only-sdist-1.tar.gz", "packagetype": "sdist",
                                               "url": "x.tar.gz"}], "releases": {}}).encode()
        old = gim.PYPI_JSON
        gim.PYPI_JSON = self.server.base + "/pypi/{name}/json"
        try:
            with tempfile.TemporaryDirectory() as d:
                top = os.path.join(d, "top.tsv")
                with open(top, "w") as fh:
                    fh.write("# c\n1\tdemo-pkg\n2\tonly-sdist\n3\tgone\n")
                out = os.path.join(d, "map.tsv")
                cache = os.path.join(d, "cache.json")
                args = ["--top", top, "--out", out, "--cache", cache, "--workers", "4", "--date", "2000-01-01"]
                self.assertEqual(gim.main(args), 0)
                with open(out) as fh:
                    text = fh.read()
                self.assertEqual(text.splitlines()[2:], ["google.cloud.demo\tdemo-pkg\t1"])
                self.assertIn("top 3 PyPI projects on 2000-01-01", text.splitlines()[0])
                n = len(REQUESTS)
                self.assertEqual(gim.main(args), 0)  # all cached
                self.assertEqual(len(REQUESTS), n)
                with open(out) as fh:
                    self.assertEqual(fh.read(), text)
        finally:
            gim.PYPI_JSON = old


if __name__ == "__main__":
    unittest.main(verbosity=1)
