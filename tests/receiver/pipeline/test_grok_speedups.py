"""The match-preserving regex rewrites (grok/speedups.py) and the capture facts (regex.group_facts):
the rewritten regexes must report exactly what RE2 reports for the original expansion."""

from __future__ import annotations

import functools
import random
import types

import pytest
import re2

from receiver.pipeline.grok import compile_grok
from receiver.pipeline.grok.compiler import _rename_groups, expand, go_trim_space
from receiver.pipeline.grok.regex import group_facts
from receiver.pipeline.grok.speedups import absorb, decapture, py_rewrites

NGINX = ('%{IPORHOST:client_ip} %{NOTSPACE:http_ident} %{NOTSPACE:http_auth} \\[%{HTTPDATE:time}\\] '
         '"%{DATA:http_method} %{GREEDYDATA:http_url} HTTP/%{NUMBER:http_version}" %{INT:status_code:int} '
         '%{INT:bytes:int} "%{DATA:referrer}" "%{DATA:agent}"')


@functools.cache
def plain_re2(pattern: str):
    text, _ = expand(pattern)
    order: list[str] = []
    return re2.compile(_rename_groups(text, order)), order


grok = functools.cache(compile_grok)


def reference(pattern: str, s: str, trim: bool = True):
    """The captures RE2 reports for the plain expansion (no rewrite), as grok defines them."""
    rx, order = plain_re2(pattern)
    m = rx.search(s)
    if m is None:
        return None
    out = {}
    for i, name in enumerate(order):  # the last group of a name wins, first-appearance order
        v = m.group(f"g{i}")
        out[name] = "" if v is None else (go_trim_space(v) if trim else v)
    return out


def ours(pattern: str, s: str, trim: bool = True):
    """What the grok built-in stores (the generated writer), checked against Grok.match."""
    g = grok(pattern)
    m = g.regex.search(s)
    if m is None:
        assert g.match(s, trim) is None
        return None
    fields: dict = {}
    (g.store if trim else g.store_untrimmed)(m, {}, fields, None)
    assert list(fields.items()) == g.match(s, trim)
    return fields


def untyped(d):
    return None if d is None else {k: str(v) for k, v in d.items()}


NGINX_LINES = [
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 201 52802 "-" "curl/8.4.0"',
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET /a HTTP/1.0 x HTTP/1.1" 200 1 "-" "a b"',  # two HTTP/
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET /a HTTP/1.1" 200 1 "r"e"f" "ag"ent" "x"',  # quotes inside
    'fe80::1%eth0 - - [01/Nov/2026:08:00:00 +0000] "PUT /x HTTP/2" 500 0 "" ""',
    'host.example.com u p [1/Nov/2026:08:00:00 -0700] "GET  /double  HTTP/1.1" 404 12 "-" "-"',
    'junk 10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 201 5 "-" "x" trailing',
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 201 5 "-" "unterminated',
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 2o1 5 "-" "x"',
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET\t/tab HTTP/1.1" 201 5 "-" "\u00a0nbsp\u00a0"',
    '10.1.2.3 - - [01/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 201 5 "-" "line\nbreak"',
]


@pytest.mark.parametrize("line", NGINX_LINES)
def test_nginx_captures_equal_re2_on_the_plain_expansion(line):
    assert untyped(ours(NGINX, line)) == untyped(reference(NGINX, line))


def test_nginx_regex_is_rewritten():
    g = compile_grok(NGINX)
    py = g.regex.py.pattern
    assert g.regex.py.groups == 11  # unnamed groups of the library patterns no longer capture
    assert ".*?" not in py and "++" in py
    assert {p[1]: p[4] for p in g.plan}["http_url"] == len(" HTTP/")


PATTERNS = [
    '%{DATA:a}"%{GREEDYDATA:b}"',
    '%{DATA:a}"?%{WORD:b}',  # the literal after DATA is optional: no rewrite
    '%{GREEDYDATA:a}ab%{DATA:b}b',
    '%{GREEDYDATA:a}a+%{DATA:b}$',
    '^%{NOTSPACE:a} %{NOTSPACE:b}$',
    '(?:%{DATA:a}|x)"%{INT:n:int}',
    '%{DATA:a} (?:%{GREEDYDATA:b})? "',
    '%{WORD:w}(?:x%{DATA:d})*y',
    '%{GREEDYDATA:a}\\.%{INT:b}',
    '(?i)%{DATA:a}h',
    '%{QS:q} %{DATA:rest}\\]',
    '%{COMBINEDAPACHELOG}',
    '%{SYSLOGBASE} %{GREEDYDATA:msg}',
]
ALPHABET = ['a', 'b', '"', ' ', 'x', 'y', '.', '1', '2', 'h', 'H', ']', '\n', '\t', 'ab']


@pytest.mark.parametrize("pattern", PATTERNS)
def test_random_inputs_match_re2_on_the_plain_expansion(pattern):
    rnd = random.Random(pattern)
    for _ in range(300):
        s = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 24)))
        for trim in (True, False):
            assert untyped(ours(pattern, s, trim)) == untyped(reference(pattern, s, trim)), (pattern, s)


def test_decapture_keeps_named_groups_escapes_and_classes():
    assert decapture(r"(a)(?P<n>b)\((?:c)[(]") == r"(?:a)(?P<n>b)\((?:c)[(]"
    assert decapture(r"[]()][[:alpha:](]\Q(x)\E(y)") == r"[]()][[:alpha:](]\Q(x)\E(?:y)"


def test_absorb_only_unquantified_literals_after_greedydata():
    assert absorb(r'(?P<g0>.*) HTTP/\d') == (r'(?P<g0>.* HTTP/)\d', {"g0": 6})
    assert absorb(r'(?P<g0>.*)ab*') == (r'(?P<g0>.*a)b*', {"g0": 1})
    assert absorb(r'(?P<g0>.*)\.x') == (r'(?P<g0>.*\.x)', {"g0": 2})
    assert absorb(r'(?P<g0>.*?) ') == (r'(?P<g0>.*?) ', {})
    assert absorb(r'(?i)(?P<g0>.*) ') == (r'(?i)(?P<g0>.*) ', {})


def test_py_rewrites():
    assert py_rewrites(r'(?P<a>.*?)"') == r'(?P<a>[^"\n]*+(?:"[^"\n]*+)*?)"'
    assert py_rewrites(r'(?P<a>.+?)x') == r'(?P<a>.[^x\n]*+(?:x[^x\n]*+)*?)x'
    assert py_rewrites(r'(?P<a>.*?)"?') == r'(?P<a>.*?)"?'
    assert py_rewrites(r'[^ ]+ ') == r'[^ ]++ '
    assert py_rewrites(r'(?:[0-9]+) ') == r'(?:[0-9]++) '
    assert py_rewrites(r'(?:[0-9]+)? ') == r'(?:[0-9]+)? '  # the group is optional
    assert py_rewrites(r'[0-9]+1') == r'[0-9]+1'  # the literal is in the set
    assert py_rewrites(r'(?=[0-9]+)x') == r'(?=[0-9]+)x'  # a look-ahead ends there
    assert py_rewrites(r'a+|b') == r'a+|b'
    assert py_rewrites(r'(?s:.*?)x') == r'(?s:.*?)x'  # inline flags: left alone


def test_group_facts():
    facts = group_facts(r"(?P<a>\d+) (?P<b>x)?(?:(?P<c>y)|z) (?P<d>[^\t\n\f\r ]+)(?=(?P<e>q))")
    assert facts == {1: (True, False), 2: (False, False), 3: (False, False), 4: (True, True), 5: (False, False)}


def test_captures_that_cannot_hold_spaces_are_not_trimmed_but_the_others_are():
    g = compile_grok('%{INT:n:int}\\|%{DATA:d}\\|')
    assert g.match("7| x |") == [("n", 7), ("d", "x")]
    assert g.match("7| x |", trim=False) == [("n", 7), ("d", " x ")]


def test_a_capture_named_like_an_existing_tag_stays_a_tag():
    g = compile_grok('%{INT:n:int} %{WORD:w}')
    tags, fields, calls = {"w": "old"}, {}, []
    ctx = types.SimpleNamespace(set_field=lambda k, v: calls.append((k, v)))
    g.store(g.regex.search("5 abc"), tags, fields, ctx)
    assert fields == {"n": 5} and calls == [("w", "abc")]
