#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen-man.py -- generate the section 3 man pages of libsmtpc from the
Doxygen comments of the public headers.

    python3 man/gen-man.py            write man/man3/smtpc_*.3 and man/man.am
    python3 man/gen-man.py --check    write nothing; exit 1 if a committed
                                      page (or man/man.am) differs from what
                                      would be generated, or is stale
    python3 man/gen-man.py --out DIR  write the pages below DIR instead
    python3 man/gen-man.py --undocumented
                                      list public items without a comment

One page per SMTPC_API function, in man-pages(7) order: NAME, LIBRARY,
SYNOPSIS, DESCRIPTION, RETURN VALUE, ERRORS, [NOTES, EXAMPLES], SEE ALSO.

What the headers give:
  \\brief             the NAME line (first sentence) and the start of
                     DESCRIPTION
  paragraphs, \\code  the rest of DESCRIPTION
  \\param[dir] n t    the argument list in DESCRIPTION
  \\retval SMTPC_OK   RETURN VALUE; every other \\retval code goes to ERRORS
  \\return t          RETURN VALUE; "As f()" / "Otherwise as f()" also
                     brings in f's \\retval codes
  enum types of the arguments are listed with their values.

man/extra/<function>.txt adds what a header comment should not hold:
  @name TEXT           replaces the NAME description
  @see NAME[(S)] ...   more SEE ALSO entries (section 3 by default)
  @types TYPE ...      document these enums/structs/callback types too
  @section NAME        following paragraphs (same markup as the headers,
                       \\code blocks included) form section NAME, placed in
                       man-pages order (DESCRIPTION appends to the generated
                       one)

Only the Python standard library is used.  The generated pages are
committed, so building and installing libsmtpc never needs Python; the test
man/check-man.sh runs --check so they cannot drift from the headers.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
HEADERS = ["base.h", "session.h", "socket.h", "tls.h", "mime.h", "client.h",
           "dkim.h", "smtpc.h"]  # documentation order
FALLBACK_DATE = "2026-11-23"  # used while NEWS names no release date

SECTION_ORDER = [
    "NAME", "LIBRARY", "SYNOPSIS", "CONFIGURATION", "DESCRIPTION", "OPTIONS",
    "EXIT STATUS", "RETURN VALUE", "ERRORS", "ENVIRONMENT", "FILES",
    "ATTRIBUTES", "VERSIONS", "STANDARDS", "HISTORY", "NOTES", "CAVEATS",
    "BUGS", "EXAMPLES", "AUTHORS", "REPORTING BUGS", "COPYRIGHT", "SEE ALSO",
]

# Functions outside libsmtpc that the comments mention, with their section.
FOREIGN = {
    "poll": 2, "epoll": 7, "getaddrinfo": 3, "time": 2, "localtime_r": 3,
    "errno": 3, "malloc": 3, "free": 3, "realloc": 3, "select": 2,
}


class Item:
    """A documented declaration."""

    def __init__(self, kind, name, doc, code, header):
        self.kind = kind  # function, enum, struct, opaque, callback, define
        self.name = name
        self.doc = doc  # parsed Doc or None
        self.code = code  # the declaration text
        self.header = header
        self.members = []  # (name, value_or_decl, Doc or None)
        self.ret = None
        self.params = []  # (decl, name)


class Doc:
    """A parsed Doxygen comment."""

    def __init__(self):
        self.brief = []  # lines
        self.blocks = []  # ('p', [lines]) | ('code', [lines]) | ('list', [[lines]])
        self.params = []  # (dir, name, [lines])
        self.retvals = []  # ([codes], [lines])
        self.returns = []  # [lines] per \return


# --------------------------------------------------------------- parsing

def strip_comment(text):
    """Body lines of a /** ... */ or /**< ... */ comment."""
    text = re.sub(r"^/\*\*<?", "", text)
    text = re.sub(r"\*/$", "", text)
    lines = []
    for ln in text.split("\n"):
        ln = ln.rstrip()
        m = re.match(r"^\s*\*(?!/)\s?(.*)$", ln)
        lines.append(m.group(1) if m else ln.strip())
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def parse_doc(lines):
    d = Doc()
    cur = None  # the list that continuation lines go to
    in_code = None
    state = "start"  # start, brief, body
    for raw in lines:
        ln = raw.rstrip()
        s = ln.strip()
        if in_code is not None:
            if s == "\\endcode":
                d.blocks.append(("code", in_code))
                in_code = None
            else:
                in_code.append(ln)
            continue
        if s == "\\code" or s.startswith("\\code{"):
            in_code = []
            cur = None
            continue
        if not s:
            cur = None
            if state == "brief":
                state = "body"
            continue
        m = re.match(r"^\\brief\s+(.*)$", s)
        if m:
            d.brief = [m.group(1)]
            cur = d.brief
            state = "brief"
            continue
        if re.match(r"^\\file\b", s):
            continue
        m = re.match(r"^\\param(?:\[(in|out|in,out)\])?\s+(\w+)\s*(.*)$", s)
        if m:
            d.params.append((m.group(1) or "", m.group(2), [m.group(3)]))
            cur = d.params[-1][2]
            state = "body"
            continue
        m = re.match(r"^\\retval\s+(SMTPC_\w+(?:\s*,\s*SMTPC_\w+)*)\s*(.*)$", s)
        if m:
            codes = [c.strip() for c in m.group(1).split(",")]
            d.retvals.append((codes, [m.group(2)]))
            cur = d.retvals[-1][1]
            state = "body"
            continue
        m = re.match(r"^\\returns?\s+(.*)$", s)
        if m:
            d.returns.append([m.group(1)])
            cur = d.returns[-1]
            state = "body"
            continue
        if re.match(r"^\\\w+", s) and not re.match(r"^\\(p|e|c|a|b)\b", s):
            raise SystemExit("gen-man: unsupported Doxygen command: %s" % s)
        if cur is None and state == "start":
            # Text without \brief: Doxygen's JAVADOC_AUTOBRIEF is off, so
            # it is the detailed description.
            state = "body"
        m = re.match(r"^-\s+(.*)$", s)
        if m and state == "body":
            if d.blocks and d.blocks[-1][0] == "list" and cur is not None:
                d.blocks[-1][1].append([m.group(1)])
            else:
                d.blocks.append(("list", [[m.group(1)]]))
            cur = d.blocks[-1][1][-1]
            continue
        if cur is None:
            d.blocks.append(("p", [s]))
            cur = d.blocks[-1][1]
            continue
        cur.append(s)
    if in_code is not None:
        raise SystemExit("gen-man: \\code without \\endcode")
    # A code list may go on on the next line: "\\retval A, B,\n B2 text".
    for i, (codes, lines) in enumerate(d.retvals):
        text = norm(" ".join(lines))
        m = re.match(r"^,\s*(SMTPC_\w+)\s*", text)
        while m:
            codes.append(m.group(1))
            text = text[m.end():]
            m = re.match(r"^,\s*(SMTPC_\w+)\s*", text)
        d.retvals[i] = (codes, [text])
    return d


def split_top(text, sep):
    """Split on sep outside parentheses and braces."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def norm(code):
    return re.sub(r"\s+", " ", code).strip()


def decl_name(decl):
    """Name declared by a parameter or field declaration."""
    m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl)
    if m:
        return m.group(1)
    m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", decl)
    return m.group(1) if m else ""


def parse_members(body, kind):
    """Members of an enum or struct body, with their comments."""
    members = []
    pending = None
    pos = 0
    for m in re.finditer(r"/\*.*?\*/", body, re.S):
        chunks = [(body[pos:m.start()], None)]
        pos = m.end()
        for code, _ in chunks:
            pending = add_members(code, kind, members, pending)
        com = m.group(0)
        if com.startswith("/**<"):
            if not members:
                raise SystemExit("gen-man: trailing comment before any member")
            members[-1][2] = parse_doc(strip_comment(com))
        elif com.startswith("/**"):
            pending = parse_doc(strip_comment(com))
    add_members(body[pos:], kind, members, pending)
    return [tuple(x) for x in members]


def add_members(code, kind, members, pending):
    sep = "," if kind == "enum" else ";"
    for piece in split_top(code, sep):
        p = norm(piece)
        if not p:
            continue
        if kind == "enum":
            name = p.split("=")[0].strip()
            value = p.split("=", 1)[1].strip() if "=" in p else None
            members.append([name, value, pending])
        else:
            members.append([decl_name(p), p, pending])
        pending = None
    return pending


def parse_header(path, hname):
    text = open(path, encoding="utf-8").read()
    items = []
    pos = 0
    for m in re.finditer(r"/\*\*(?!<).*?\*/", text, re.S):
        if m.start() < pos:
            continue
        doc = parse_doc(strip_comment(m.group(0)))
        rest = text[m.end():]
        pos = m.end()
        s = rest.lstrip()
        if s.startswith("#ifndef") or re.match(r"#\s*if\b", s):
            continue  # \file comment, or the SMTPC_API macro
        md = re.match(r"#define\s+(\w+)", s)
        if md:
            items.append(Item("define", md.group(1), doc, md.group(0), hname))
            continue
        # The declaration ends at the first ';' outside braces/parens.
        depth, end = 0, None
        for i, ch in enumerate(s):
            if ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            elif ch == ";" and depth == 0:
                end = i
                break
        if end is None:
            raise SystemExit("gen-man: %s: no declaration after a comment" % hname)
        decl = s[:end + 1]
        consumed = rest.find(decl) + len(decl)
        pos = m.end() + consumed
        items.append(parse_decl(decl, doc, hname))
    return items


def parse_decl(decl, doc, hname):
    d = norm(re.sub(r"/\*.*?\*/", " ", decl, flags=re.S))
    if d.startswith("SMTPC_API"):
        d = d[len("SMTPC_API"):].strip()
        m = re.match(r"^(.*?)\b(smtpc_\w+)\s*\((.*)\)\s*;$", d)
        if not m:
            raise SystemExit("gen-man: cannot parse prototype: %s" % d)
        it = Item("function", m.group(2), doc, d, hname)
        it.ret = m.group(1).strip()
        args = m.group(3).strip()
        if args != "void":
            for a in split_top(args, ","):
                a = norm(a)
                it.params.append((a, decl_name(a)))
        return it
    m = re.match(r"^typedef\s+(enum|struct)\s+(\w+)\s*\{(.*)\}\s*(\w+)\s*;$",
                 decl, re.S)
    if m:
        it = Item(m.group(1), m.group(4), doc, decl, hname)
        it.members = parse_members(m.group(3), m.group(1))
        return it
    m = re.match(r"^typedef\s+struct\s+(\w+)\s+(\w+)\s*;$", d)
    if m:
        return Item("opaque", m.group(2), doc, d, hname)
    m = re.match(r"^typedef\s+.*\(\s*\*\s*(\w+)\s*\)\s*\(.*\)\s*;$", d)
    if m:
        return Item("callback", m.group(1), doc, d, hname)
    m = re.match(r"^typedef\s+.*?(\w+)\s*;$", d)
    if m:
        return Item("typedef", m.group(1), doc, d, hname)
    raise SystemExit("gen-man: %s: cannot parse declaration: %s" % (hname, d))


def load_api():
    items = []
    for h in HEADERS:
        path = os.path.join(TOP, "include", "smtpc", h)
        got = parse_header(path, h)
        # An SMTPC_API function without a comment would get no page.
        names = {i.name for i in got}
        text = re.sub(r"/\*.*?\*/", " ", open(path, encoding="utf-8").read(),
                      flags=re.S)
        for m in re.finditer(r"SMTPC_API\s[^;]*?\b(smtpc_\w+)\s*\(", text):
            if m.group(1) not in names:
                raise SystemExit("gen-man: %s: %s() has no doc comment"
                                 % (h, m.group(1)))
        items += got
    others = sorted(set(os.listdir(os.path.join(TOP, "include", "smtpc")))
                    - set(HEADERS))
    others = [f for f in others if f.endswith(".h")]
    if others:
        raise SystemExit("gen-man: add %s to HEADERS in man/gen-man.py"
                         % ", ".join(others))
    return items


# --------------------------------------------------------------- rendering

class Ctx:
    def __init__(self, items):
        self.items = items
        self.funcs = {i.name: i for i in items if i.kind == "function"}
        self.types = {i.name: i for i in items
                      if i.kind in ("enum", "struct", "callback", "opaque",
                                    "typedef")}
        errs = self.types.get("smtpc_error")
        self.err_order = [m[0] for m in errs.members] if errs else []
        self.see = set()  # collects function references of the current page


def esc(text):
    """Escape plain text for roff (not at line start)."""
    return text.replace("\\", "\\e")


def esc_lit(text):
    """Escape literal (code) text: exact hyphens and quotes."""
    return esc(text).replace("-", "\\-").replace("'", "\\(aq")


INLINE = re.compile(
    r"\\p\s+(?P<p>\w+)"
    r"|`(?P<tick>[^`]+)`"
    r"|::(?P<ref>\w+)"
    r"|(?P<ma>\b\w+)::(?P<mb>\w+)"
    r"|\b(?P<fn>\w+)\(\)"
    r"|(?P<k>\bSMTPC_\w+)"
)


def inline(text, ctx, plain=False):
    """Render one paragraph's text (Doxygen inline markup) as roff."""
    out = []
    pos = 0
    for m in INLINE.finditer(text):
        out.append(esc(text[pos:m.start()]))
        pos = m.end()
        if m.group("p"):
            w = m.group("p")
            out.append(esc(w) if plain else "\\fI%s\\fP" % esc(w))
        elif m.group("tick"):
            w = m.group("tick")
            out.append(esc(w) if plain else "\\fB%s\\fP" % esc_lit(w))
        elif m.group("ref") or m.group("k"):
            w = m.group("ref") or m.group("k")
            if w in ctx.funcs:
                ctx.see.add(w)
                out.append(esc(w) if plain else "\\fB%s\\fP(3)" % esc(w))
            else:
                out.append(esc(w) if plain else "\\fB%s\\fP" % esc(w))
        elif m.group("ma"):
            w = "%s.%s" % (m.group("ma"), m.group("mb"))
            out.append(esc(w) if plain else "\\fB%s\\fP" % esc(w))
        elif m.group("fn"):
            w = m.group("fn")
            if w in ctx.funcs:
                ctx.see.add(w)
                out.append(esc(w) + "()" if plain else "\\fB%s\\fP(3)" % esc(w))
            elif w in FOREIGN and not plain:
                out.append("\\fB%s\\fP(%d)" % (esc(w), FOREIGN[w]))
            else:
                out.append(esc(w) + "()" if plain else "\\fB%s\\fP()" % esc(w))
    out.append(esc(text[pos:]))
    return "".join(out)


def para_lines(lines, ctx):
    """A paragraph as roff source: one sentence per line."""
    text = norm(" ".join(lines))
    text = inline(text, ctx)
    # New sentence, new line (roff then spaces sentences correctly).
    text = re.sub(r"(?<=[a-z0-9)\"'>][.!?]) +(?=[A-Z(\\])", "\n", text)
    out = []
    for ln in text.split("\n"):
        out += wrap(ln.strip())
    return out


def wrap(ln, width=79):
    """Break a filled text line at spaces; no output line starts with a
    control character."""
    out = []
    while True:
        if len(ln) > width:
            k = ln.rfind(" ", 0, width + 1)
            if k <= 0:
                k = ln.find(" ", width)
        else:
            k = -1
        head, ln = (ln[:k], ln[k + 1:]) if k > 0 else (ln, "")
        if head.startswith((".", "'")):
            head = "\\&" + head
        out.append(head)
        if not ln:
            return out


def code_lines(lines):
    # Drop the common indentation.
    ind = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    out = [".PP", ".in +4n", ".EX"]
    for l in lines:
        l = esc_lit(l[ind:].rstrip())
        if l.startswith((".", "'")):
            l = "\\&" + l
        out.append(l)
    out += [".EE", ".in"]
    return out


def blocks_roff(blocks, ctx, first_pp=True):
    out = []
    for kind, body in blocks:
        if kind == "p":
            out.append(".PP")
            out += para_lines(body, ctx)
        elif kind == "code":
            out += code_lines(body)
        elif kind == "list":
            for entry in body:
                out += [".IP \\(bu 3"] + para_lines(entry, ctx)
    if not first_pp and out and out[0] == ".PP":
        out = out[1:]
    return out


def name_line(it, extra):
    if extra.get("name"):
        text = extra["name"]
    else:
        brief = norm(" ".join(it.doc.brief))
        # First sentence.
        m = re.match(r"^(.*?[A-Za-z0-9)\"'`>])\.(\s+[A-Z(]|$)", brief)
        text = m.group(1) if m else brief.rstrip(".")
        if re.match(r"^[A-Z]([a-z]|\s)", text):
            text = text[0].lower() + text[1:]
    text = inline(text, Ctx([]), plain=True)
    text = re.sub(r"[`]", "", text)
    return "%s \\- %s" % (it.name, text)


def synopsis(it):
    """The prototype as .BI lines, parameter names in italics."""
    head = "%s%s%s(" % (it.ret, "" if it.ret.endswith("*") else " ", it.name)
    if not it.params:
        return [".B %s" % q(head + "void);")]
    pieces = []  # per parameter: list of (font, text)
    for i, (decl, name) in enumerate(it.params):
        tail = ");" if i == len(it.params) - 1 else ","
        m = re.search(r"\(\s*\*\s*(%s)\s*\)" % re.escape(name), decl)
        if m:
            k = m.start(1)
            pre, post = decl[:k], decl[k + len(name):]
        else:
            k = decl.rfind(name)
            pre, post = decl[:k], decl[k + len(name):]
        pieces.append([("B", pre), ("I", name), ("B", post + tail)])
    lines = []
    cur = [("B", head)]
    width = len(head)
    indent = " " * len(head)
    for i, p in enumerate(pieces):
        plen = sum(len(t) for _, t in p)
        if i > 0:
            if width + 1 + plen > 78:
                lines.append(cur)
                cur = [("B", indent)]
                width = len(indent)
            else:
                cur.append(("B", " "))
                width += 1
        cur += p
        width += plen
    lines.append(cur)
    return [bi_line(l) for l in lines]


def q(s):
    if s == "" or re.search(r"[\s\"]", s):
        return '"%s"' % s.replace('"', '""')
    return s


def bi_line(chunks):
    # Merge neighbours of the same font; alternate starting with bold.
    merged = []
    for f, t in chunks:
        if t == "":
            continue
        if merged and merged[-1][0] == f:
            merged[-1][1] += t
        else:
            merged.append([f, t])
    if merged and merged[0][0] != "B":
        merged.insert(0, ["B", ""])
    args = [q(esc(t)) for _, t in merged]
    if len(args) == 1:
        return ".B " + args[0]
    return ".BI " + " ".join(args)


def type_section(t, ctx):
    out = []
    if t.kind == "enum":
        out += [".SS %s" % q("The %s values" % t.name)]
    elif t.kind == "struct":
        out += [".SS %s" % q("struct %s" % t.name)]
    else:
        out += [".SS %s" % q(t.name)]
    if t.doc:
        out += blocks_roff([("p", t.doc.brief)] + t.doc.blocks, ctx,
                           first_pp=False)
    if t.kind == "struct":
        code = ["typedef struct %s {" % t.name]
        code += ["    %s;" % decl for _, decl, _ in t.members]
        code += ["} %s;" % t.name]
        out += code_lines(code)
    if t.kind == "callback":
        out += code_lines(["typedef " + t.code[len("typedef "):]])
    if t.kind in ("enum", "struct"):
        for name, val, doc in t.members:
            out.append(".TP")
            label = name if t.kind == "struct" else name
            if t.kind == "enum" and val is not None:
                out.append(".BR %s \" (%s)\"" % (esc(label), esc(val).replace("-", "\\-")))
            else:
                out.append(".B %s" % esc(label))
            if doc is None:
                raise SystemExit("gen-man: %s.%s is not documented" % (t.name, name))
            out += blocks_roff([("p", doc.brief)] + doc.blocks if doc.brief
                               else doc.blocks, ctx, first_pp=False)
    return out


def ret_refs(it):
    """Functions whose \\retval codes this one inherits ("As f()")."""
    refs = []
    for r in it.doc.returns:
        for m in re.finditer(r"\b[Aa]s\s+(smtpc_\w+)\(\)", " ".join(r)):
            refs.append(m.group(1))
    return refs


def collect_retvals(it, ctx, seen=None):
    """[(code, lines, from_function)] own first, then inherited."""
    seen = set() if seen is None else seen
    if it.name in seen:
        return []
    seen.add(it.name)
    out = []
    for codes, lines in it.doc.retvals:
        for c in codes:
            out.append((c, lines, it.name))
    for ref in ret_refs(it):
        if ref not in ctx.funcs:
            raise SystemExit("gen-man: %s refers to unknown %s()" % (it.name, ref))
        out += collect_retvals(ctx.funcs[ref], ctx, seen)
    return out


def p_refs(lines):
    return set(re.findall(r"\\p\s+(\w+)", " ".join(lines)))


def errors_and_ok(it, ctx):
    params = {n for _, n in it.params}
    ok = None
    per_code = {}
    for code, lines, src in collect_retvals(it, ctx):
        if code == "SMTPC_OK":
            if ok is None:
                ok = (lines, src)
            continue
        if code not in ctx.err_order:
            raise SystemExit("gen-man: %s: \\retval %s is not an smtpc_error"
                             % (it.name, code))
        text = para_lines(lines, ctx)
        if src != it.name and not p_refs(lines) <= params:
            text = ["As for \\fB%s\\fP(3):" % esc(src)] + text
            ctx.see.add(src)
        lst = per_code.setdefault(code, [])
        # Own text first; an inherited one only when it adds something.
        if src == it.name or not any(s != it.name for s, _ in lst) or not lst:
            if not any(t == text for _, t in lst):
                lst.append((src, text))
    errs = []
    for code in ctx.err_order:
        if code in per_code:
            # Inherited explanation before the function's own "Also ..."
            entries = sorted(per_code[code], key=lambda e: e[0] == it.name)
            text = []
            for _, t in entries:
                text += t
            errs.append((code, text))
    # Neighbouring codes with the same text share one entry.
    grouped = []
    for code, text in errs:
        if grouped and grouped[-1][1] == text:
            grouped[-1][0].append(code)
        else:
            grouped.append(([code], text))
    return ok, grouped


def see_also(it, ctx, extra):
    refs = set(ctx.see)
    # The function that makes the object this one works on.
    if it.params:
        m = re.match(r"^(?:const\s+)?(smtpc_\w+)\s*\*\s*\w+$", it.params[0][0])
        if m:
            t = m.group(1)
            for f in ctx.funcs.values():
                produces = re.match(r"^(const\s+)?%s\s*\*$" % t, f.ret or "") or \
                    any(re.match(r"^%s\s*\*\*\s*\w+$" % t, d) for d, _ in f.params)
                if produces:
                    refs.add(f.name)
    # new <-> free
    if it.name.endswith("_new"):
        refs.add(it.name[:-4] + "_free")
    if it.name.endswith("_free"):
        refs.add(it.name[:-5] + "_new")
    refs = {r for r in refs if r in ctx.funcs and r != it.name}
    entries = [(3, r) for r in refs] + [(3, "libsmtpc")]
    for s in extra.get("see", []):
        m = re.match(r"^([\w.-]+)(?:\((\w+)\))?$", s)
        if not m:
            raise SystemExit("gen-man: bad @see entry: %s" % s)
        sec = m.group(2) or "3"
        entries.append((int(sec) if sec.isdigit() else sec, m.group(1)))
    entries = sorted(set(entries), key=lambda e: (str(e[0]), e[1]))
    out = []
    for i, (sec, name) in enumerate(entries):
        sep = "," if i < len(entries) - 1 else ""
        out.append(".BR %s (%s)%s" % (esc(name), sec, sep))
    return out


def load_extra(name):
    path = os.path.join(HERE, "extra", name + ".txt")
    extra = {"sections": {}}
    if not os.path.exists(path):
        return extra
    cur = None
    for ln in open(path, encoding="utf-8").read().split("\n"):
        if ln.startswith("#") and cur is None:
            continue
        m = re.match(r"^@(\w+)\s*(.*)$", ln)
        if m and m.group(1) in ("name", "see", "types", "section"):
            key, val = m.group(1), m.group(2).strip()
            if key == "name":
                extra["name"] = val
            elif key == "see":
                extra.setdefault("see", []).extend(val.split())
            elif key == "types":
                extra.setdefault("types", []).extend(val.split())
            else:
                if val not in SECTION_ORDER:
                    raise SystemExit("gen-man: %s: unknown section %s" % (path, val))
                cur = extra["sections"].setdefault(val, [])
            continue
        if cur is None:
            if ln.strip():
                raise SystemExit("gen-man: %s: text outside @section" % path)
            continue
        cur.append(ln)
    for k, lines in extra["sections"].items():
        extra["sections"][k] = parse_doc(lines)
    return extra


def page(it, ctx, version, date):
    ctx.see = set()
    extra = load_extra(it.name)
    d = it.doc
    out = []
    out.append(".\\\" SPDX-License-Identifier: MIT")
    out.append(".\\\" Generated by man/gen-man.py from include/smtpc/%s%s;"
               % (it.header, " and man/extra/%s.txt" % it.name
                  if os.path.exists(os.path.join(HERE, "extra", it.name + ".txt"))
                  else ""))
    out.append(".\\\" do not edit: change the header comment and run the script.")
    out.append(".TH %s 3 %s %s %s" % (it.name.upper(), date,
                                      q("libsmtpc " + version),
                                      q("libsmtpc Manual")))
    out += [".SH NAME"] + wrap(name_line(it, extra))
    out += [".SH LIBRARY", "SMTP client library",
            '.RI ( libsmtpc ", " \\-lsmtpc )']
    out += [".SH SYNOPSIS", ".nf", ".B #include <smtpc/smtpc.h>", ".PP"]
    out += synopsis(it)
    out += [".fi"]

    sections = {}
    desc = blocks_roff([("p", d.brief)] + d.blocks, ctx, first_pp=False)
    if d.params:
        desc.append(".PP")
        desc.append("Arguments:")
        for direction, name, lines in d.params:
            desc.append(".TP")
            if direction and direction != "in":
                desc.append(".IR %s \" (%s)\"" % (esc(name), direction.replace(",", "/")))
            else:
                desc.append(".I %s" % esc(name))
            desc += para_lines(lines, ctx)
    documented = {n for _, n, _ in d.params}
    for _, n in it.params:
        if n not in documented:
            raise SystemExit("gen-man: %s: parameter %s is not documented" % (it.name, n))
    # Enum arguments are listed with their values; more types on request.
    tnames = []
    for decl in [it.ret] + [p for p, _ in it.params]:
        for w in re.findall(r"\bsmtpc_\w+", decl):
            t = ctx.types.get(w)
            if t is not None and t.kind == "enum" and w not in tnames:
                tnames.append(w)
    for w in extra.get("types", []):
        if w not in ctx.types:
            raise SystemExit("gen-man: @types %s: no such type" % w)
        if w not in tnames:
            tnames.append(w)
    for w in tnames:
        desc += type_section(ctx.types[w], ctx)
    if "DESCRIPTION" in extra["sections"]:
        e = extra["sections"].pop("DESCRIPTION")
        desc += blocks_roff(e.blocks, ctx)
    sections["DESCRIPTION"] = desc

    ok, errs = errors_and_ok(it, ctx)
    rv = []
    if ok is not None or errs:
        rv.append(".TP")
        rv.append(".B SMTPC_OK")
        rv += para_lines(ok[0], ctx) if ok else ["(0) on success."]
        if errs:
            rv.append(".PP")
            rv.append("Otherwise a negative \\fBsmtpc_error\\fP code, listed "
                      "under ERRORS.")
    for r in d.returns:
        # "As f()." only says where the codes come from: ERRORS lists them.
        if (ok is not None or errs) and re.match(
                r"^(Otherwise )?[Aa]s smtpc_\w+\(\)\.?$", norm(" ".join(r))):
            continue
        rv.append(".PP")
        rv += para_lines(r, ctx)
    if not rv:
        if it.ret == "void":
            rv = ["None."]
        else:
            raise SystemExit("gen-man: %s: no \\return or \\retval" % it.name)
    elif rv[0] == ".PP":
        rv = rv[1:]
    sections["RETURN VALUE"] = rv
    if errs:
        er = []
        for codes, text in errs:
            er.append(".TP")
            if len(codes) == 1:
                er.append(".B %s" % codes[0])
            else:
                er.append(".BR " + " \", \" ".join(codes))
            er += text
        sections["ERRORS"] = er
    for name, doc in extra["sections"].items():
        body = blocks_roff(doc.blocks, ctx, first_pp=False)
        sections[name] = body
    sa = see_also(it, ctx, extra)
    for name in SECTION_ORDER:
        if name in sections:
            out.append(".SH %s" % q(name))
            out += sections[name]
    out.append(".SH \"SEE ALSO\"")
    out += sa
    return "\n".join(out) + "\n"


def version_and_date():
    ac = open(os.path.join(TOP, "configure.ac"), encoding="utf-8").read()
    m = re.search(r"AC_INIT\(\[[^\]]*\],\s*\[([^\]]+)\]", ac)
    version = m.group(1) if m else "unknown"
    date = FALLBACK_DATE
    news = os.path.join(TOP, "NEWS")
    if os.path.exists(news):
        first = open(news, encoding="utf-8").readline()
        m = re.search(r"\((\d{4}-\d{2}-\d{2})\)", first)
        if m:
            date = m.group(1)
    return version, date


def man_am(names):
    lines = ["# SPDX-License-Identifier: MIT",
             "# Generated by man/gen-man.py: the man pages make install puts in place.",
             "dist_man_MANS = man/man1/smtpc.1 man/man3/libsmtpc.3"]
    for n in names:
        lines[-1] += " \\"
        lines.append("\tman/man3/%s.3" % n)
    lines.append("EXTRA_DIST += man/gen-man.py man/check-man.sh man/man.am \\")
    extras = sorted(f for f in os.listdir(os.path.join(HERE, "extra"))
                    if f.endswith(".txt"))
    for i, f in enumerate(extras):
        lines.append("\tman/extra/%s%s" % (f, " \\" if i < len(extras) - 1 else ""))
    return "\n".join(lines) + "\n"


def undocumented(items):
    out = []
    for it in items:
        if it.kind in ("enum", "struct"):
            for name, _, doc in it.members:
                if doc is None:
                    out.append("%s: %s member %s of %s" % (it.header, it.kind, name, it.name))
        if it.kind == "function":
            have = {n for _, n, _ in it.doc.params}
            for _, n in it.params:
                if n not in have:
                    out.append("%s: parameter %s of %s()" % (it.header, n, it.name))
            if it.ret != "void" and not it.doc.returns and not it.doc.retvals:
                out.append("%s: return value of %s()" % (it.header, it.name))
        if it.doc is None or not (it.doc.brief or it.doc.blocks):
            out.append("%s: %s %s" % (it.header, it.kind, it.name))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--undocumented", action="store_true")
    a = ap.parse_args()
    items = load_api()
    if a.undocumented:
        u = undocumented(items)
        print("\n".join(u) if u else "every public item is documented")
        return 1 if u else 0
    ctx = Ctx(items)
    version, date = version_and_date()
    funcs = [i for i in items if i.kind == "function"]
    for f in os.listdir(os.path.join(HERE, "extra")):
        if f.endswith(".txt") and f[:-4] not in ctx.funcs:
            raise SystemExit("gen-man: man/extra/%s names no public function" % f)
    files = {}
    for it in funcs:
        files[os.path.join("man3", it.name + ".3")] = page(it, ctx, version, date)
    names = sorted(it.name for it in funcs)
    files["man.am"] = man_am(names)
    if a.check:
        bad = 0
        for rel, text in sorted(files.items()):
            path = os.path.join(a.out, rel)
            try:
                have = open(path, encoding="utf-8").read()
            except OSError:
                have = None
            if have != text:
                print("gen-man: %s is %s" % (os.path.relpath(path, TOP),
                                             "missing" if have is None else
                                             "out of date"))
                bad = 1
        m3 = os.path.join(a.out, "man3")
        for f in sorted(os.listdir(m3)) if os.path.isdir(m3) else []:
            if f.startswith("smtpc_") and os.path.join("man3", f) not in files:
                print("gen-man: man/man3/%s documents no public function" % f)
                bad = 1
        if bad:
            print("gen-man: run `python3 man/gen-man.py` and commit the result")
        return bad
    os.makedirs(os.path.join(a.out, "man3"), exist_ok=True)
    m3 = os.path.join(a.out, "man3")
    for f in os.listdir(m3):
        if f.startswith("smtpc_") and os.path.join("man3", f) not in files:
            os.remove(os.path.join(m3, f))
    for rel, text in files.items():
        path = os.path.join(a.out, rel)
        try:
            if open(path, encoding="utf-8").read() == text:
                continue
        except OSError:
            pass
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    print("gen-man: %d pages in %s" % (len(funcs), os.path.relpath(m3, os.getcwd())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
