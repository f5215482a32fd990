#!/usr/bin/env python3
"""The differential corpus for mlpack's core metadata parser (`src/pypi/core_metadata.rs`).

Real `METADATA` files of top ML/data-science wheels and their dependencies, each with what
Python's `packaging.metadata.parse_email` (the `email` package, compat32 policy) reads from it.
The Rust test `pypi::core_metadata::corpus` parses every file and compares field by field.

Usage (needs `packaging`: `python3 -m venv /tmp/venv && /tmp/venv/bin/pip install packaging`):

  python3 scripts/gen-metadata-corpus.py pick    # choose wheels, write wheels.tsv (network)
  python3 scripts/gen-metadata-corpus.py build   # download them, write corpus + expected.json

`pick` reads one PEP 691 JSON page per project in PROJECTS and pins, per project, one wheel of
its newest final release (and for those in OLD, one of its newest release uploaded before
OLD_BEFORE, when older metadata writers were common) whose PEP 658 `.metadata` file the index
serves: `tests/data/core-metadata/wheels.tsv` (project, version, filename, metadata URL, sha256
of the metadata file, checked against the page's `core-metadata` hash when it gives one). Rerun
only to change the list.

`build` downloads each pinned `.metadata` file, checks it against the pinned sha256, and writes
`corpus.tar.xz` (the files, named `<wheel filename>.metadata`, deterministic) and
`expected.json` beside it: per file its sha256 and packaging's reading of `Name`, `Version`,
`Requires-Dist`, `Requires-Python`, `Provides-Extra` (normalized by packaging's own types) and
the sha256 of the body (the description after the headers, as UTF-8 with bad bytes replaced).

Two choices where packaging alone does not say what a resolver reads:
- a `Requires-Dist` folded over lines is unfolded as RFC 5322 says (the line breaks removed)
  before `Requirement` parses it: packaging keeps the line breaks, which `Requirement` refuses;
- a single-use field given twice (`Name`, `Version`, `Requires-Python`) is left unparsed by
  packaging; pip and uv read the first, and so does the corpus (`expected.json` says `repeated`).
"""
import hashlib
import io
import json
import lzma
import re
import sys
import tarfile
import urllib.error
import urllib.request
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path
from urllib.parse import urljoin

from packaging.metadata import parse_email
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

INDEX = "https://pypi.org/simple/"
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "core-metadata"
OLD_BEFORE = "2021-01-01"

PROJECTS = """
torch torchvision torchaudio triton nvidia-cublas-cu12 nvidia-cudnn-cu12 nvidia-nccl-cu12
nvidia-cuda-runtime-cu12 nvidia-cusparse-cu12
tensorflow tensorflow-cpu keras tensorboard tensorboard-data-server tensorflow-io-gcs-filesystem
tensorflow-datasets tensorflow-metadata tensorflow-hub tf-keras tensorflow-probability
jax jaxlib flax optax chex orbax-checkpoint ml-dtypes opt-einsum etils dm-tree
transformers tokenizers huggingface-hub safetensors datasets accelerate peft diffusers
sentence-transformers evaluate timm einops bitsandbytes trl
numpy scipy matplotlib contourpy cycler fonttools kiwisolver pillow pyparsing python-dateutil
pandas pytz tzdata scikit-learn joblib threadpoolctl xgboost lightgbm catboost seaborn plotly
statsmodels patsy sympy mpmath networkx numba llvmlite polars pyarrow numexpr bottleneck
scikit-image imageio tifffile lazy-loader opencv-python opencv-python-headless albumentations
xarray dask distributed toolz partd locket cloudpickle fsspec s3fs gcsfs
nbconvert nbformat nbclient jupyter-core jupyter-client jupyterlab notebook ipykernel ipython
ipywidgets jupyter-server jupyterlab-server traitlets tornado pyzmq jinja2 markupsafe mistune
bleach tinycss2 defusedxml pandocfilters jupyterlab-pygments pygments beautifulsoup4 soupsieve
fastjsonschema jsonschema jsonschema-specifications referencing rpds-py attrs debugpy comm
nest-asyncio psutil packaging matplotlib-inline prompt-toolkit wcwidth jedi parso decorator
pexpect ptyprocess stack-data executing asttokens pure-eval platformdirs widgetsnbextension
jupyterlab-widgets terminado send2trash argon2-cffi argon2-cffi-bindings cffi pycparser
prometheus-client overrides websocket-client anyio sniffio idna jupyter-events
python-json-logger pyyaml rfc3339-validator rfc3986-validator jupyter-lsp json5 babel
async-lru notebook-shim jupyter-server-terminals webcolors uri-template isoduration fqdn
arrow types-python-dateutil
requests urllib3 certifi charset-normalizer httpx httpcore h11 aiohttp aiosignal frozenlist
multidict yarl propcache aiohappyeyeballs
setuptools wheel typing-extensions filelock protobuf grpcio absl-py astunparse flatbuffers gast
google-pasta h5py libclang termcolor wrapt markdown werkzeug rich markdown-it-py mdurl namex
optree regex tqdm dill multiprocess xxhash six
onnx onnxruntime coloredlogs humanfriendly sentencepiece nltk spacy thinc gensim smart-open
shap slicer pytorch-lightning lightning lightning-utilities torchmetrics tensorboardx
wandb mlflow gitpython gitdb smmap sentry-sdk setproctitle docker click pydantic pydantic-core
annotated-types omegaconf hydra-core optuna colorlog alembic sqlalchemy greenlet ray msgpack
gradio fastapi starlette uvicorn streamlit altair bokeh gymnasium farama-notifications
google-auth pyasn1 pyasn1-modules rsa cachetools oauthlib requests-oauthlib
openpyxl et-xmlfile xlrd lxml tables pytest pluggy iniconfig tabulate cython pybind11
"""

# Older releases too: metadata written by older setuptools, wheel, flit and others.
OLD = """
numpy scipy matplotlib pandas scikit-learn torch tensorflow keras jupyter-client nbconvert
nbformat notebook ipykernel ipython jinja2 requests urllib3 six setuptools pyyaml pillow
attrs jsonschema tornado traitlets cycler kiwisolver pyparsing python-dateutil pytz
prompt-toolkit pygments protobuf grpcio absl-py h5py tqdm click werkzeug markdown
bleach seaborn statsmodels xgboost lightgbm
"""

JSON_PAGE = "application/vnd.pypi.simple.v1+json"
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<tags>[^-]+-[^-]+-[^-]+)\.whl$")


def fetch(url: str, accept: str | None = None) -> tuple[str, bytes]:
    """The final URL (after redirects) and the body."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.url, response.read()


def metadata_sha256(file: dict) -> str | None:
    """The sha256 of the PEP 658 file, if the page says there is one."""
    value = file.get("core-metadata", file.get("dist-info-metadata"))
    return value.get("sha256") if isinstance(value, dict) else None


def wheel_rank(tags: str) -> int:
    """Which wheel of a release to take: pure Python first, then CPython 3.11 on Linux x86_64."""
    if tags.endswith("-none-any"):
        return 0
    if "manylinux" in tags and "x86_64" in tags:
        return 1 if tags.startswith("cp311-") else 2
    return 3


def releases(project: str) -> list[tuple[Version, str, str, str, dict]]:
    """(version, upload time, filename, metadata URL, file) of each candidate wheel,
    newest version first, the preferred wheel of a version first."""
    page_url, body = fetch(f"{INDEX}{project}/", JSON_PAGE)
    found = []
    for file in json.loads(body)["files"]:
        match = WHEEL.match(file["filename"])
        if not match or file.get("yanked"):
            continue
        try:
            version = Version(match["version"])
        except InvalidVersion:
            continue
        if version.is_prerelease or version.is_devrelease:
            continue
        # A page may give relative file URLs: they are relative to the page.
        url = urljoin(page_url, file["url"]).split("#")[0] + ".metadata"
        rank = wheel_rank(match["tags"])
        found.append((version, file.get("upload-time", ""), rank, file["filename"], url, file))
    found.sort(key=lambda row: (row[2], row[3]))
    # Stable: within a version, the order above stays.
    found.sort(key=lambda row: row[0], reverse=True)
    return [(version, up, name, url, file) for version, up, _, name, url, file in found]


def with_metadata(candidates: list, version: Version) -> tuple | None:
    """The first wheel of `version` whose `.metadata` file PyPI serves, with its sha256.

    Some PyPI front ends leave `core-metadata` out of the page, so the file itself is asked for.
    """
    for row_version, _uploaded, filename, url, file in candidates:
        if row_version != version:
            continue
        try:
            _, data = fetch(url)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                continue
            raise
        digest = hashlib.sha256(data).hexdigest()
        stated = metadata_sha256(file)
        if stated and stated != digest:
            raise SystemExit(f"{url}: sha256 {digest}, the index said {stated}")
        return (str(version), filename, url, digest)
    return None


def pick() -> int:
    projects = PROJECTS.split()
    old = set(OLD.split())
    assert len(set(projects)) == len(projects), "a project is listed twice"
    assert old <= set(projects), f"OLD lists projects not in PROJECTS: {old - set(projects)}"
    rows = []
    for project in projects:
        candidates = releases(project)
        if not candidates:
            print(f"{project}: no wheel, skipped", file=sys.stderr)
            continue
        versions = sorted({row[0] for row in candidates}, reverse=True)
        newest = next(filter(None, (with_metadata(candidates, v) for v in versions)), None)
        chosen = [newest] if newest else []
        if project in old:
            before = sorted({row[0] for row in candidates if row[1] and row[1] < OLD_BEFORE})
            older = next(
                filter(None, (with_metadata(candidates, v) for v in reversed(before))), None
            )
            if older and older != newest:
                chosen.append(older)
        for row in chosen:
            rows.append((project, *row))
            print(f"{project} {row[0]} {row[1]}", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "wheels.tsv", "w", encoding="utf-8") as out:
        out.write("# project\tversion\twheel\tmetadata_url\tmetadata_sha256\n")
        for row in rows:
            out.write("\t".join(row) + "\n")
    print(f"{len(rows)} wheels", file=sys.stderr)
    return 0


def pinned() -> list[tuple[str, str, str, str, str]]:
    lines = (OUT / "wheels.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


def single(raw: dict, unparsed: dict, field: str, email_name: str) -> tuple[str | None, bool]:
    """A single-use field: its value and whether it was repeated (then the first is taken)."""
    if field in raw:
        return raw[field], False
    values = unparsed.get(email_name)
    return (values[0], True) if values else (None, False)


def expected(data: bytes) -> dict:
    """What packaging reads from `data`, normalized by packaging's types."""
    raw, unparsed = parse_email(data)
    name, name_repeated = single(raw, unparsed, "name", "name")
    version, version_repeated = single(raw, unparsed, "version", "version")
    python, python_repeated = single(raw, unparsed, "requires_python", "requires-python")
    requirements = [
        str(Requirement(re.sub(r"[\r\n]", "", value))) for value in raw.get("requires_dist", [])
    ]
    extras = []
    for extra in raw.get("provides_extra", []):
        try:
            extras.append(canonicalize_name(extra, validate=True))
        except InvalidName:
            # mlpack skips an extra no requirement could name; packaging would refuse the file.
            pass
    if name is None or version is None:
        raise ValueError("no `Name` or no `Version`")
    body = BytesParser(policy=compat32).parsebytes(data).get_payload(decode=True) or b""
    entry = {
        "name": canonicalize_name(name),
        "version": str(Version(version)),
        "requires_dist": requirements,
        "requires_python": str(SpecifierSet(python)) if python and python.strip() else None,
        "provides_extra": extras,
        # Of the body as text, as mlpack reads it: bytes that aren't UTF-8 replaced.
        "body_sha256": hashlib.sha256(body.decode("utf-8", "replace").encode()).hexdigest(),
    }
    repeated = [
        field
        for field, flag in (
            ("Name", name_repeated),
            ("Version", version_repeated),
            ("Requires-Python", python_repeated),
        )
        if flag
    ]
    if repeated:
        entry["repeated"] = repeated
    unreadable = sorted(key for key in unparsed if key in ("requires-dist", "provides-extra"))
    if unreadable:
        raise ValueError(f"packaging could not read {unreadable}")
    return entry


def build() -> int:
    files = {}
    entries = {}
    for project, version, filename, url, digest in pinned():
        _, data = fetch(url)
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise SystemExit(f"{url}: sha256 {actual}, the index said {digest}")
        member = f"{filename}.metadata"
        files[member] = data
        entry = {"project": project, "sha256": digest}
        entry.update(expected(data))
        entries[member] = entry
    archive = io.BytesIO()
    # Deterministic: sorted names, no times or owners, so a rebuild gives the same bytes.
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in sorted(files):
            info = tarfile.TarInfo(member)
            info.size = len(files[member])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[member]))
    (OUT / "corpus.tar.xz").write_bytes(
        lzma.compress(archive.getvalue(), preset=9 | lzma.PRESET_EXTREME)
    )
    with open(OUT / "expected.json", "w", encoding="utf-8") as out:
        json.dump(dict(sorted(entries.items())), out, indent=1, sort_keys=True)
        out.write("\n")
    print(f"{len(files)} files", file=sys.stderr)
    return 0


def main() -> int:
    commands = {"pick": pick, "build": build}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return commands[sys.argv[1]]()


if __name__ == "__main__":
    sys.exit(main())
