"""BENCHMARKS.md is written by several benchmarks, each owning one section
between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; splice() replaces
that section and leaves the rest of the file alone (a missing section is
appended, a missing file created)."""
import os
import tempfile


def splice(path, name, text, title="# Benchmarks"):
    begin, end = "<!-- bench:%s -->" % name, "<!-- /bench:%s -->" % name
    block = begin + "\n" + text.rstrip("\n") + "\n" + end
    old = open(path).read() if os.path.exists(path) else title + "\n"
    if begin in old and end in old:
        a, b = old.index(begin), old.index(end) + len(end)
        new = old[:a] + block + old[b:]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".bench-")
    with os.fdopen(fd, "w") as f:
        f.write(new)
    os.replace(tmp, path)
