"""Every reference in the repository can be opened from a clone of it: no file points at a
path of the machine it was written on (the notes of /work/notes once were), or at those
notes by name. Decisions live in docs/, the README or commit messages."""

import os
import re
import subprocess

from conftest import REPO

OUTSIDE = [
    (re.compile(r"(?<![\w.-])/work/"), "an absolute path of the machine it was written on"),
    (re.compile(r"\b(seed000_calls|messages_sql|shop_sql)\.md\b"), "notes that are not in the repository"),
    (re.compile(r"\bnotes D\d+"), "a choice of notes that are not in the repository (docs/seed000.md has D1-D19)"),
]

# Files still being rewritten elsewhere, each with the reason. An entry must still hold a
# reference: once its file is clean, delete the entry, so the test covers it again.
PENDING = {}


def repository_files():
    try:
        out = subprocess.run(["git", "-C", REPO, "ls-files", "-z"], capture_output=True, check=True,
                             timeout=30).stdout
        names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    except (OSError, subprocess.SubprocessError):
        names = []
        for root, dirs, files in os.walk(REPO):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and d != "node_modules"]
            names += [os.path.relpath(os.path.join(root, f), REPO) for f in files]
    assert names, "no files found under %s" % REPO
    return sorted(names)


def references(name):
    path = os.path.join(REPO, name)
    if not os.path.isfile(path):  # deleted in the work tree, not yet in the index
        return []
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data[:8192]:
        return []  # binary (the screenshot)
    found = []
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        for pattern, why in OUTSIDE:
            if pattern.search(line):
                found.append("%s:%d: %s: %s" % (name, n, why, line.strip()[:160]))
    return found


def test_no_file_refers_outside_the_repository():
    me = os.path.relpath(os.path.abspath(__file__), REPO)
    found = []
    for name in repository_files():
        if name != me and name not in PENDING:
            found += references(name)
    assert not found, "bring what these point at into docs/ and point there:\n" + "\n".join(found)


def test_pending_files_still_need_their_exception():
    for name, why in PENDING.items():
        assert references(name), "%s has no outside reference left (%s): remove it from PENDING" % (name, why)


def test_the_patterns_find_what_they_are_for():
    samples = ["see /work/notes/seed000_calls.md", "(shop_sql.md, decision 10)", "cookies (notes D1, D17)",
               "HG_BUILD_ROOT=/work/build-compat scripts/test"]
    for s in samples:
        assert any(p.search(s) for p, _ in OUTSIDE), s
    for s in ["docs/seed000.md D17", "https://example.com/work/x", "./work/tmp", "src/homework/a.c"]:
        assert not any(p.search(s) for p, _ in OUTSIDE), s
