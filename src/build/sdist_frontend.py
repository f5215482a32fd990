"""mlpack's PEP 517 build frontend: one sdist into one wheel, inside the build container.

Run by mlpack as `python3 frontend.py MODE SDIST OUT_DIR BACKEND [BACKEND_PATH...]`, with the
build environment on PYTHONPATH, no network, and the sdist mounted read-only. It unpacks the
sdist into a private directory (nothing outside it can be written), imports the backend,
checks that what `get_requires_for_build_wheel` asks for is installed, and then, for MODE
`wheel`, calls `build_wheel` (the wheel lands in OUT_DIR); for MODE `metadata`, writes the
`METADATA` that `prepare_metadata_for_build_wheel` computes (or, for a backend without that
hook, the built wheel's) to OUT_DIR/METADATA. Exit status 3 means the backend asked for
requirements the build environment lacks.
"""

import importlib
import importlib.metadata
import os
import re
import sys
import tarfile
import zipfile

WORK = "/tmp/mlpack-sdist"


def safe_members(archive):
    """Refuse members that would land outside WORK (PEP 625 sdists never have them)."""
    root = os.path.realpath(WORK)
    for member in archive.getmembers():
        target = os.path.realpath(os.path.join(WORK, member.name))
        if not (target == root or target.startswith(root + os.sep)):
            sys.exit(f"mlpack: the sdist member `{member.name}` leaves the source tree")
        if member.issym() or member.islnk():
            link = os.path.realpath(os.path.join(os.path.dirname(target), member.linkname))
            if not link.startswith(root + os.sep):
                sys.exit(f"mlpack: the sdist link `{member.name}` points outside the source tree")
        if member.isdev():
            sys.exit(f"mlpack: the sdist member `{member.name}` is a device")
    return archive.getmembers()


def unpack(sdist):
    os.makedirs(WORK)
    if sdist.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            archive.extractall(WORK)
    else:
        with tarfile.open(sdist) as archive:
            archive.extractall(WORK, members=safe_members(archive))
    entries = os.listdir(WORK)
    if len(entries) == 1 and os.path.isdir(os.path.join(WORK, entries[0])):
        return os.path.join(WORK, entries[0])
    return WORK


def load_backend(spec, source, backend_path):
    for path in reversed(backend_path):
        sys.path.insert(0, os.path.join(source, path))
    module_name, _, attributes = spec.partition(":")
    backend = importlib.import_module(module_name.strip())
    for attribute in filter(None, attributes.strip().split(".")):
        backend = getattr(backend, attribute)
    return backend


def missing_requirements(backend):
    get_requires = getattr(backend, "get_requires_for_build_wheel", None)
    if get_requires is None:
        return []
    missing = []
    for requirement in get_requires({}) or []:
        name = re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0]
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def metadata(backend, out):
    scratch = "/tmp/mlpack-metadata"
    os.makedirs(scratch)
    prepare = getattr(backend, "prepare_metadata_for_build_wheel", None)
    if prepare is not None:
        dist_info = prepare(scratch, {})
        with open(os.path.join(scratch, dist_info, "METADATA"), "rb") as source:
            text = source.read()
    else:
        wheel = backend.build_wheel(scratch, {}, None)
        with zipfile.ZipFile(os.path.join(scratch, wheel)) as archive:
            name = next(
                entry for entry in archive.namelist()
                if entry.count("/") == 1 and entry.endswith(".dist-info/METADATA")
            )
            text = archive.read(name)
    with open(os.path.join(out, "METADATA"), "wb") as target:
        target.write(text)


def main():
    mode, sdist, out, spec, *backend_path = sys.argv[1:]
    source = unpack(sdist)
    os.chdir(source)
    backend = load_backend(spec, source, backend_path)
    missing = missing_requirements(backend)
    if missing:
        print(
            "mlpack: the build backend asks for " + ", ".join(missing)
            + ", which the locked build environment lacks",
            file=sys.stderr,
        )
        sys.exit(3)
    if mode == "metadata":
        metadata(backend, out)
    else:
        print(backend.build_wheel(out, {}, None))


if __name__ == "__main__":
    main()
