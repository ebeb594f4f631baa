#!/usr/bin/env python3
"""Leak reports of cppcheck (memleak, resourceLeak), less the ones about a
variable its function declares with a cleanup attribute.

cppcheck does not model __attribute__((cleanup)): every early return of a
function holding a _cleanup_free_ or _cleanup_close_ variable looks like a
leak to it. Such a variable is released on every path by the compiler, so
a report about it is dropped; every other report is kept (a variable that
is freed by hand is checked as before).

usage: cppcheck --template='{file}:{line}:{column}: {id}: {message}' ... 2>&1 |
       scripts/leaks.py     -- prints the reports kept, exits 1 if any
"""
import re
import sys

REPORT = re.compile(r'^(?P<file>[^:]+):(?P<line>\d+):\d+: (?P<id>memleak|resourceLeak): .*: (?P<var>[\w.>-]+)$')
_files = {}


def lines_of(path):
    if path not in _files:
        with open(path, encoding='utf-8', errors='replace') as f:
            _files[path] = f.read().split('\n')
    return _files[path]


def declared_with_cleanup(path, line, var):
    """Whether var's base name is declared _cleanup_* between the start of
    the function holding line (its '{' at column 0) and line."""
    base = re.split(r'\.|->', var)[0]
    src = lines_of(path)
    start = line - 1
    while start > 0 and src[start] != '{':
        start -= 1
    decl = re.compile(r'_cleanup_\w*(\([^)]*\))?\s[^;]*?\b' + re.escape(base) + r'\b\s*(=|;|\[)')
    return any(decl.search(l) for l in src[start:line])


def main():
    kept = []
    for raw in sys.stdin:
        raw = raw.rstrip('\n')
        m = REPORT.match(raw)
        if not m:
            continue
        if declared_with_cleanup(m['file'], int(m['line']), m['var']):
            continue
        kept.append(raw)
    for k in kept:
        print(k)
    return 1 if kept else 0


if __name__ == '__main__':
    sys.exit(main())
