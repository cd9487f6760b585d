#!/usr/bin/env python3
"""Generate crates/pgwire/src/sqlstate.rs from PostgreSQL's errcodes.txt.

Usage: scripts/gen-sqlstate.py /usr/share/postgresql/15/errcodes.txt > crates/pgwire/src/sqlstate.rs
"""
import re
import sys

src = open(sys.argv[1]).read().splitlines()
out = [
    "//! SQLSTATE codes, generated from PostgreSQL's errcodes.txt by scripts/gen-sqlstate.py.",
    "//! Do not edit by hand.",
    "",
    "/// A five-character SQLSTATE error code.",
    "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]",
    "pub struct SqlState(&'static str);",
    "",
    "impl SqlState {",
    "    /// The five-character code, as sent in the `C` field of ErrorResponse.",
    "    pub const fn code(self) -> &'static str {",
    "        self.0",
    "    }",
    "",
]
seen = set()
for line in src:
    m = re.match(r"^([0-9A-Z]{5})\s+([EWS])\s+ERRCODE_([A-Z_0-9]+)(\s+(\w+))?", line)
    if not m:
        continue
    code, name = m.group(1), m.group(3)
    if name in seen:
        continue
    seen.add(name)
    out.append(f"    pub const {name}: SqlState = SqlState(\"{code}\");")
out.append("}")
print("\n".join(out))
