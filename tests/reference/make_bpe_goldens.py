"""tests/reference/make_bpe_goldens.py: reference token ids for runtime/bpe.c.

Runs OpenCLIP's SimpleTokenizer (open_clip/tokenizer.py, imported from its file on
PYTHONPATH, so the package __init__ and its torch version checks are not needed) on a
fixed list of strings and writes tests/golden/bpe/strings.json and ids.json.
With --tables it instead rewrites the Unicode / HTML data tables of runtime/bpe.c
(between the @tables-begin / @tables-end markers) from unicodedata, html.entities,
the regex module and ftfy, the same libraries the tokenizer uses.

Needs: regex, ftfy (with wcwidth), numpy, torch, the vocabulary at
../shared/data/clip/bpe_simple_vocab_16e6.txt.gz (relative to the repository root).
Run from the repository root:
    PYTHONPATH=<ftfy checkout>:<open_clip checkout>/src python3 tests/reference/make_bpe_goldens.py
    PYTHONPATH=... python3 tests/reference/make_bpe_goldens.py --tables
"""
import html
import html.entities
import importlib.util
import json
import os
import random
import re as stdre
import sys
import unicodedata

import regex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLD = os.path.join(ROOT, "tests", "golden", "bpe")
VOCAB = os.path.join(ROOT, "..", "shared", "data", "clip", "bpe_simple_vocab_16e6.txt.gz")
BPE_C = os.path.join(ROOT, "runtime", "bpe.c")
CTX = 77


def load_tokenizer_module():
    for d in sys.path:
        f = os.path.join(d, "open_clip", "tokenizer.py")
        if d and os.path.isfile(f):
            spec = importlib.util.spec_from_file_location("open_clip_tokenizer", f)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod, f
    sys.exit("open_clip/tokenizer.py not found: put <open_clip checkout>/src on PYTHONPATH")


# ------------------------------------------------------------------------------------------
# test strings
# ------------------------------------------------------------------------------------------

HAND = [
    # plain captions
    "a photo of a cat", "A photo of a dog.", "a diagram", "a photo of a {}.",
    "An astronaut riding a horse on the moon, digital art, trending on artstation",
    "itap of a cool car", "a bad photo of the large tench", "a black and white photo of a goldfish",
    "The quick brown fox jumps over the lazy dog", "THE QUICK BROWN FOX", "MiXeD CaSe WoRdS",
    # punctuation
    "hello, world!", "what?!?!", "...", "wait... what", "(parenthesised) [bracketed] {braced}",
    "semi;colon: colon", "a--b -- c---d", "quote \"double\" and 'single'", "'", "''", "'''",
    "#hashtag @mention $100 50% 3*4 a+b=c ~tilde ^caret |pipe \\backslash /slash",
    "email@example.com", "https://example.com/path?q=1&r=2#frag", "C:\\Program Files\\x.exe",
    "def f(x): return x**2  # square", "{\"json\": [1, 2, 3]}", "<<>> <> >< <=>",
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "-_-", "^_^", ":-) :-( ;-) :D", "a_b_c snake_case",
    # digits
    "0", "1234567890", "3.14159", "1,000,000", "-42", "+7", "1e-5", "2024-01-31", "12:30pm",
    "room 101", "4k 8K 1080p", "x1y2z3", "007 bond", "v2.0.1",
    # contractions
    "don't", "DON'T", "I'm here", "we'll see", "they've gone", "she'd know", "it's", "It's",
    "you're", "can't won't shouldn't", "o'clock", "rock'n'roll", "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D", "''s", "'sss", "it'd've", "y'all'd've", "the cat's toy",
    "James' book", "'tis", "don\u2019t", "it\u2019s \u2018quoted\u2019", "\u201cdouble curly\u201d",
    "\u201equote\u201f", "\u02bcmodifier apostrophe", "\u2032prime\u2033",
    # accents and Latin
    "caf\u00e9", "cafe\u0301", "na\u00efve", "Cr\u00e8me br\u00fbl\u00e9e", "\u00c5ngstr\u00f6m",
    "\u212bngstr\u00f6m", "Stra\u00dfe", "STRASSE", "\u1e9e", "\u0130stanbul", "\u0131\u0130iI",
    "Ko\u00e7 \u00dcniversitesi", "\u0141\u00f3d\u017a", "\u017b\u00f3\u0142\u0107", "Dvo\u0159\u00e1k",
    "\u00c6sir \u00e6 \u0152uvre \u0153", "\u00de\u00f0 \u00fe\u00d0", "S\u00e3o Paulo", "Fran\u00e7ais",
    "e\u0301\u0302\u0323", "a\u0323\u0302", "\u1e69\u0307", "\u01c4 \u01c5 \u01c6 \u01c7 \u01c8 \u01c9",
    "\u0132sselmeer \u0133s", "\u0149", "\u017ftrange long s", "'\u017f", "\u1e9b\u0323",
    # ligatures, width, compatibility
    "\ufb01ne \ufb02ow \ufb00 \ufb03 \ufb04 \ufb05 \ufb06", "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33",
    "\uff35\uff80\uff70\uff9d", "\uff76\uff9e\uff77\uff9e", "\uffe0\uffe1\uffe5\uffe6", "\uffe3",
    "\uff10\uff11\uff12", "\uffa1\uffa4", "x\u00b2 + y\u00b3 = z\u00b9", "\u00bd \u00bc \u00be",
    "\u2160 \u2161 \u216b \u2170", "\u2460\u2461\u2462", "\u2122 \u00a9 \u00ae", "\u2126 \u212a \u00b5",
    # Greek, Cyrillic
    "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3", "\u03a3", "\u03a3\u03a3", "A\u03a3", "A\u03a3b",
    "A\u03a3 b", "A\u03a3.", "A.\u03a3", "\u1f08\u03a3\u0345", "\u03b1\u03b2\u03b3 \u0391\u0392\u0393",
    "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5", "\u1f00\u1f08\u1f88",
    "\u041c\u043e\u0441\u043a\u0432\u0430", "\u041f\u0420\u0418\u0412\u0415\u0422 \u043c\u0438\u0440",
    "\u0401\u0436 \u0451\u0436", "\u0407\u0404\u0406", "\u0500\u0501",
    # other scripts
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587\u5b57", "\u6f22\u5b57\u304b\u306a\u30ab\u30ca",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u1112\u1161\u11ab", "\u0645\u0631\u062d\u0628\u0627",
    "\u05e9\u05dc\u05d5\u05dd", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8", "\u0540\u0561\u0575\u0565\u0580\u0565\u0576",
    "\u1200\u1208\u1208", "\u0b95\u0bae\u0bb2\u0bbe", "\uf900\uf901", "\U00020000\U0002a6d6",
    "\u3042\u3044\u3046\u3048\u304a", "\u30a2\u30a4\u30a6\u30a8\u30aa", "\u3001\u3002\u300c\u300d",
    # digits of other scripts
    "\u0663\u0664\u0665", "\u0967\u0968\u0969", "\u09e6\u09ef", "\u0e51\u0e52", "\uff11\uff12",
    "\U0001d7ce\U0001d7cf", "\u00b2\u00b3", "\u3007\u4e00\u4e8c", "\u2155", "\U0001f100",
    # emoji and symbols
    "\U0001f431", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1eb\U0001f1f7", "I \u2764\ufe0f NY", "\u2600\u2601\u2602", "\U0001f600 \U0001f601 \U0001f602",
    "cat\U0001f431dog\U0001f436", "\u2211 \u222b \u221e \u2248 \u2260", "\u20ac 100 \u00a3 50 \u00a5 1000",
    "\u2192 \u2190 \u2191 \u2193", "\u2665\u2666\u2663\u2660", "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",
    # HTML entities
    "&amp;", "&lt;b&gt;bold&lt;/b&gt;", "&amp;amp;", "&amp;amp;amp;amp;", "&amp;lt;",
    "caf&eacute;", "CAF&EACUTE;", "STRA&SZLIG;E", "&ntilde; &Ntilde; &NTILDE; &nTILDE;",
    "&nbsp;non&nbsp;breaking", "&#39;quoted&#39;", "&#x27;hex&#X27;", "&#128512;", "&#x1F600;",
    "&#0;", "&#13;", "&#128;", "&#x80;&#x81;&#x9d;", "&#xD800;", "&#1114112;", "&#99999999999999999999;",
    "&#1;x", "&#xFFFE;", "&#65", "&#x41", "&copy 2020", "&copy2020", "&notit;", "&notin;",
    "AT&T", "a & b", "a &b c", "&;", "&", "&&&", "&#;", "&#x;", "&ampamp;", "&amp", "&AMP;",
    "&hellip; &mdash; &ndash; &lsquo;x&rsquo; &ldquo;y&rdquo;", "&Jscr;ohn &HilbertSpace;ancock",
    "&checkmark; &NotNestedGreaterGreater; &bne;", "&frac12;&frac34;", "&lt;3 &gt;_&lt;",
    "<b>bold</b> &amp; more", "<p>&amp;amp;</p>", "x < y &amp; y > z", "&amp;\n<br>\n&amp;",
    "<a>\n&amp;", "&amp;\n<a>", "&ltimes; &LTIMES;", "&AElig; &AELIG; &aelig;", "&#59;", "&#65a;",
    "&thinsp;&ensp;&emsp;", "&#x2028;", "&zwj;&zwnj;", "&shy;soft", "&NewLine;x&Tab;y",
    # whitespace and controls
    "", " ", "   ", "\t", "\n", "\r\n", "  lots   of   spaces  ", "tab\tseparated\tvalues",
    "line1\nline2\r\nline3\rline4", "a\u00a0b", "a\u3000b", "a\u2028b\u2029c", "a\u0085b",
    "a\u2002b\u2003c\u2009d\u200ae", "a\u200bb", "a\u202fb\u205fc", "a\u1680b", "\ufeffhello",
    "a\u00adb", "x\u0001y\u0008z", "a\x0bb\x0cc", "a\x1cb\x1dc\x1ed\x1fe", "a\x7fb", "\u206ax\u206f",
    "a\ufff9b\ufffcc", "\x1b[31mred\x1b[0m text", "\x1b[1;32mbold green\x1b[m", "\x1bx",
    "\u0093quoted\u0094", "\u0080 euro \u0099", "\u0081\u008d", "a\u200db", "\u200e\u200fx",
    "\U000e0041", "\ufffd", "\ufffd\ufffd", " leading", "trailing ", "\n\n\nnewlines\n\n\n",
    # special tokens in the text
    "<start_of_text>", "<end_of_text>", "<START_OF_TEXT>", "a<end_of_text>b", "<|startoftext|>",
    "<|endoftext|>", "<start_of_text><end_of_text>", "<\u017ftart_of_text>", "<start_of_text",
    # long words
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Donaudampfschifffahrtsgesellschaftskapit\u00e4n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababababababab", "zzzzzzzzzzzzzzzz", "qqqqxxxxjjjj",
    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "\u4e00" * 30, "\U0001f431" * 20,
]

# strings whose cleaning needs ftfy's mojibake repair (fix_encoding), which bpe.c does not do
MOJIBAKE = [
    "S\u00c3\u00a3o Paulo", "caf\u00c3\u00a9", "\u00e2\u0080\u009cquoted\u00e2\u0080\u009d",
    "\u00e2\u0153\u201d No problems", "&macr;\\_(\u00e3\u0083\u0084)_/&macr;", "voil\u00c3 le travail",
    "\u00c3\u00a0 la mode", "L\u00c3\u00b6we",
]

LONG = [
    "a photo of a " + "very " * 100 + "big dog",
    " ".join("word%d" % i for i in range(120)),
    ("The quick brown fox jumps over the lazy dog. " * 12).strip(),
    "\u65e5\u672c\u8a9e" * 60,
    ", ".join(str(i) for i in range(80)),
    ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
     "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
     "laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in "
     "voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat "
     "cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."),
    "x" * 3000,
    "\U0001f600" * 40,
    ("caf\u00e9 &amp; cr\u00e8me \u201cbr\u00fbl\u00e9e\u201d \u2014 " * 10).strip(),
    "a" * 76, "a " * 75, "a " * 76, "a " * 77,
]


def systematic():
    out = []
    # every printable ASCII character alone and between letters
    for c in range(0x21, 0x7F):
        out.append(chr(c))
        out.append("a%sb" % chr(c))
    # Latin-1 supplement, Latin Extended-A, Greek, Cyrillic: runs of 8 letters
    for lo, hi in ((0xA0, 0x100), (0x100, 0x180), (0x180, 0x250), (0x370, 0x400),
                   (0x400, 0x460), (0x460, 0x530), (0x1E00, 0x1F00), (0x1F00, 0x2000)):
        for i in range(lo, hi, 8):
            out.append("".join(chr(c) for c in range(i, min(i + 8, hi))))
    # upper/lower pairs in a sentence
    for w in ("\u0391\u0398\u0397\u039d\u0391", "\u039b\u039f\u0393\u039f\u03a3", "\u0421\u041e\u0411\u0410\u041a\u0410",
              "\u00c9T\u00c9", "\u00dcBER", "\u0130\u0130", "\u00c7A\u011eRI", "\u0150\u0170"):
        out.append("The word %s here" % w)
    # contractions after letters, digits, spaces and capitals
    for pre in ("it", "IT", "1", " ", "\u00e9"):
        for suf in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'x"):
            out.append(pre + suf)
    # numbers
    for n in (0, 7, 10, 99, 100, 255, 1000, 65535, 1234567, 3141592653589793):
        out.append(str(n))
        out.append("%d.%02d" % (n, n % 100))
    # HTML entities: every 60th html5 name, with and without ';', upper-cased
    names = sorted(html.entities.html5)
    for name in names[::60]:
        out.append("x&%s y" % name)
        out.append("&%s" % name.upper())
    # seeded random mixtures of characters from many scripts
    pool = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     .,;:!?'\"-_()&#<>/@"
            "\u00e9\u00e8\u00ea\u00e0\u00fc\u00f6\u00df\u00c9\u00c0\u00d6\u00e7\u00f1\u0131\u0130\u0142\u017e\u0153"
            "\u03b1\u03b2\u03a3\u03c3\u03c2\u0394\u0416\u0436\u044f\u042f\u0451"
            "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\ud55c\uad6d\u0663\u0967\u00b2\u00bd\u2160"
            "\u2019\u201c\u201d\u00a0\u3000\t\n\u0301\u0308\u200d\ufb01\uff21\uff41\uff76\uff9e"
            "\U0001f431\U0001f600\U0001f44d\u2764\u20ac\u00a9")
    rnd = random.Random(20240531)
    for i in range(80):
        n = rnd.randint(1, 40)
        out.append("".join(rnd.choice(pool) for _ in range(n)))
    return out


# ------------------------------------------------------------------------------------------
# goldens
# ------------------------------------------------------------------------------------------

def make_goldens():
    import ftfy
    tokmod, tokfile = load_tokenizer_module()
    tok = tokmod.SimpleTokenizer(bpe_path=VOCAB)
    assert len(tok.encoder) == 49408
    strings = HAND + systematic() + LONG
    seen = set()
    uniq = []
    for s in strings:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    strings = uniq
    for s in strings + MOJIBAKE:
        assert "\0" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s), repr(s)

    def ids_of(s, ctx=CTX):
        return [int(v) for v in tok(s, context_length=ctx)[0].tolist()]

    def clean_nofix(s):
        t = html.unescape(html.unescape(s)).strip()
        return tokmod.whitespace_clean(t).lower()

    ok, mojibake_moved, ftfy_changes, differs_without_ftfy = [], [], 0, 0
    for s in strings:
        full = ftfy.fix_text(s)
        nofix = ftfy.fix_text(s, fix_encoding=False)
        if full != nofix:
            mojibake_moved.append(s)
            continue
        ok.append(s)
        if full != s:
            ftfy_changes += 1
        ref = tok.encode(s)
        bare = [tok.encoder[t] for w in regex.findall(tok.pat, clean_nofix(s)) for t in
                tok.bpe("".join(tok.byte_encoder[b] for b in w.encode("utf-8"))).split(" ")]
        if bare != ref:
            differs_without_ftfy += 1
    mojibake = MOJIBAKE + mojibake_moved
    for s in MOJIBAKE:
        assert ftfy.fix_text(s) != ftfy.fix_text(s, fix_encoding=False), repr(s)

    entries = []
    for s in ok:
        e = {"ids": ids_of(s)}
        full = tok.encode(s)
        if len(full) + 2 > CTX:
            e["full"] = full
        entries.append(e)
    moj = [{"ids": ids_of(s)} for s in mojibake]

    os.makedirs(GOLD, exist_ok=True)
    meta = {
        "context_length": CTX,
        "vocab": "bpe_simple_vocab_16e6.txt.gz",
        "reference": "open_clip SimpleTokenizer (clean='lower'), ftfy %s, regex %s, Python %s, Unicode %s"
                     % (ftfy.__version__, regex.__version__, sys.version.split()[0], unicodedata.unidata_version),
        "strings": len(ok),
        "ftfy_changes": ftfy_changes,
        "differ_without_ftfy": differs_without_ftfy,
        "mojibake_strings": len(mojibake),
    }
    with open(os.path.join(GOLD, "strings.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "strings": ok, "mojibake": mojibake}, f, ensure_ascii=True, indent=0)
        f.write("\n")
    with open(os.path.join(GOLD, "ids.json"), "w", encoding="utf-8") as f:
        f.write('{"ids": [\n')
        f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in entries))
        f.write('\n],\n"mojibake": [\n')
        f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in moj))
        f.write("\n]}\n")
    print(json.dumps(meta, indent=1))
    print("long strings with untruncated ids:", sum(1 for e in entries if "full" in e))
    print("moved to mojibake:", [s for s in mojibake_moved])


# ------------------------------------------------------------------------------------------
# C tables for runtime/bpe.c
# ------------------------------------------------------------------------------------------

def c_str(b):
    out = []
    for x in b:
        if 0x20 <= x < 0x7F and x not in (0x22, 0x5C, 0x3F):
            out.append(chr(x))
        else:
            out.append("\\%03o" % x)
    return '"' + "".join(out) + '"'


def wrap(items, indent="    ", width=100):
    lines, cur = [], indent
    for it in items:
        if len(cur) + len(it) + 1 > width and cur.strip():
            lines.append(cur.rstrip())
            cur = indent
        cur += it + ", "
    if cur.strip():
        lines.append(cur.rstrip())
    return "\n".join(lines)


def runs(fn, limit=0x110000):
    out, prev = [], None
    for cp in range(limit):
        v = fn(cp)
        if v != prev:
            out.append((cp, v))
            prev = v
    return out


def make_tables():
    import ftfy  # noqa: F401  (registers the sloppy codecs)
    from ftfy import chardata
    I = regex.IGNORECASE
    pl = regex.compile(r"[\p{L}]", I)
    pn = regex.compile(r"[\p{N}]", I)
    po = regex.compile(r"[^\s\p{L}\p{N}]", I)

    def cls(cp):
        c = chr(cp)
        f = [bool(pl.fullmatch(c)), bool(pn.fullmatch(c)), bool(po.fullmatch(c))]
        assert sum(f) <= 1
        return 1 if f[0] else 2 if f[1] else 3 if f[2] else 0
    cls_runs = runs(cls)
    # literals of the pattern under IGNORECASE: only 's' has a lower-case partner (long s)
    for ch in "startofextndlmvd|<>_":
        alts = [cp for cp in range(0x110000) if regex.fullmatch(regex.escape(ch), chr(cp), I)]
        expect = {ord(ch), ord(ch.upper())} | ({0x17F} if ch == "s" else set())
        assert set(alts) == expect, (ch, alts)

    lower = []
    for cp in range(0x110000):
        lo = chr(cp).lower()
        if lo != chr(cp):
            if cp == 0x130:
                assert lo == "i\u0307"
                continue
            assert len(lo) == 1
            lower.append((cp, ord(lo) - cp))
    lruns = []   # first, last, stride, delta
    for cp, d in lower:
        if lruns and lruns[-1][3] == d:
            r = lruns[-1]
            if r[0] == r[1] and cp - r[1] in (1, 2):
                r[2], r[1] = cp - r[1], cp
                continue
            if r[0] != r[1] and cp == r[1] + r[2]:
                r[1] = cp
                continue
        lruns.append([cp, cp, 1, d])

    def casecls(cp):
        c = chr(cp)
        t1 = (c + "\u03a3").lower()[-1] == "\u03c2"
        t2 = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"
        t4 = ("A\u03a3" + c).lower()[1] == "\u03c2"
        if t1:
            assert t2 and not t4
            return 1          # cased, not case-ignorable
        if t2:
            assert t4
            return 2          # case-ignorable
        assert t4
        return 0
    case_runs = runs(casecls)

    spaces = [cp for cp in range(0x110000) if chr(cp).isspace()]
    digits = [cp for cp in range(0x110000) if stdre.fullmatch(r"\d", chr(cp))]
    digit_ranges = []
    for cp in digits:
        if digit_ranges and digit_ranges[-1][1] == cp - 1:
            digit_ranges[-1][1] = cp
        else:
            digit_ranges.append([cp, cp])

    decomp = []
    for cp in range(0x110000):
        if 0xAC00 <= cp < 0xAC00 + 11172:
            continue
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        assert len(parts) in (1, 2)
        primary = len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(cp)
        decomp.append((cp, parts[0], parts[1] if len(parts) == 2 else 0, primary))
    ccc_runs = runs(lambda cp: unicodedata.combining(chr(cp)))

    width = [(0x3000, " ")]
    for cp in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize("NFKC", chr(cp))
        if alt != chr(cp):
            width.append((cp, alt))
    assert dict(width) == {k: v for k, v in chardata.WIDTH_MAP.items()}

    h5 = sorted(html.entities.html5.items(), key=lambda kv: kv[0].encode())
    ftfy_extra = sorted(((k[1:], v) for k, v in chardata.HTML_ENTITIES.items()
                         if k[1:] not in html.entities.html5), key=lambda kv: kv[0].encode())
    for k, v in chardata.HTML_ENTITIES.items():
        assert k[1:] not in html.entities.html5 or html.entities.html5[k[1:]] == v

    charrefs = html._invalid_charrefs
    invalid = sorted(html._invalid_codepoints)
    c1 = bytes(range(0x80, 0xA0)).decode("sloppy-windows-1252")
    controls = sorted(chardata.CONTROL_CHARS)
    ligatures = sorted(chardata.LIGATURES.items())

    o = []
    o.append("/* @tables-begin (Unicode %s, regex module %s) */" % (unicodedata.unidata_version, regex.__version__))
    o.append("/* pre-tokenizer classes: start << 2 | class (0 none/space, 1 letter, 2 number, 3 other) */")
    o.append("static const uint32_t cls_runs[] = {")
    o.append(wrap(["0x%x" % (cp << 2 | v) for cp, v in cls_runs]))
    o.append("};")
    o.append("/* str.lower: {first, last, stride, delta} (U+0130 is special-cased) */")
    o.append("static const int32_t lower_runs[][4] = {")
    o.append(wrap(["{0x%x,0x%x,%d,%d}" % tuple(r) for r in lruns]))
    o.append("};")
    o.append("/* final-sigma context: start << 2 | class (0 other, 1 cased, 2 case-ignorable) */")
    o.append("static const uint32_t case_runs[] = {")
    o.append(wrap(["0x%x" % (cp << 2 | v) for cp, v in case_runs]))
    o.append("};")
    o.append("/* str.isspace */")
    o.append("static const uint32_t py_space[] = {")
    o.append(wrap(["0x%x" % cp for cp in spaces]))
    o.append("};")
    o.append("/* decimal digits (\\d of the re module): {first, last} */")
    o.append("static const uint32_t re_digit[][2] = {")
    o.append(wrap(["{0x%x,0x%x}" % tuple(r) for r in digit_ranges]))
    o.append("};")
    o.append("/* canonical decompositions {cp, first, second | primary composite << 31}; Hangul syllables are algorithmic */")
    o.append("static const uint32_t nfc_decomp[][3] = {")
    o.append(wrap(["{0x%x,0x%x,0x%x}" % (cp, a, b | (0x80000000 if p else 0)) for cp, a, b, p in decomp]))
    o.append("};")
    o.append("/* canonical combining class: start << 8 | ccc */")
    o.append("static const uint32_t ccc_runs[] = {")
    o.append(wrap(["0x%x" % (cp << 8 | v) for cp, v in ccc_runs]))
    o.append("};")
    o.append("/* halfwidth / fullwidth forms to their standard forms */")
    o.append("static const CpStr width_map[] = {")
    o.append(wrap(["{0x%x,%s}" % (cp, c_str(s.encode())) for cp, s in width]))
    o.append("};")
    o.append("/* Latin ligatures and digraphs */")
    o.append("static const CpStr ligature_map[] = {")
    o.append(wrap(["{0x%x,%s}" % (cp, c_str(s.encode())) for cp, s in ligatures]))
    o.append("};")
    o.append("/* control characters removed */")
    o.append("static const uint32_t control_chars[] = {")
    o.append(wrap(["0x%x" % cp for cp in controls]))
    o.append("};")
    o.append("/* C1 controls read as (sloppy) Windows-1252 */")
    o.append("static const uint32_t c1_1252[32] = {")
    o.append(wrap(["0x%x" % ord(c) for c in c1]))
    o.append("};")
    o.append("/* numeric character references replaced by something else */")
    o.append("static const uint32_t charref_fix[][2] = {")
    o.append(wrap(["{0x%x,0x%x}" % (k, ord(v)) for k, v in sorted(charrefs.items())]))
    o.append("};")
    o.append("/* numeric character references that decode to nothing */")
    o.append("static const uint32_t charref_drop[] = {")
    o.append(wrap(["0x%x" % cp for cp in invalid]))
    o.append("};")
    o.append("/* HTML5 named character references (sorted by name) */")
    o.append("static const Ent html5_ents[] = {")
    o.append(wrap(["{%s,%s}" % (c_str(k.encode()), c_str(v.encode())) for k, v in h5]))
    o.append("};")
    o.append("/* extra all-caps entities decoded by the text fixer (sorted by name) */")
    o.append("static const Ent caps_ents[] = {")
    o.append(wrap(["{%s,%s}" % (c_str(k.encode()), c_str(v.encode())) for k, v in ftfy_extra]))
    o.append("};")
    o.append("/* @tables-end */")
    block = "\n".join(o)

    with open(BPE_C, encoding="utf-8") as f:
        src = f.read()
    a = src.index("/* @tables-begin")
    b = src.index("/* @tables-end */") + len("/* @tables-end */")
    src = src[:a] + block + src[b:]
    with open(BPE_C, "w", encoding="utf-8") as f:
        f.write(src)
    print("tables: cls %d, lower %d, case %d, decomp %d, ccc %d, html5 %d, caps %d"
          % (len(cls_runs), len(lruns), len(case_runs), len(decomp), len(ccc_runs), len(h5), len(ftfy_extra)))


if __name__ == "__main__":
    if "--tables" in sys.argv[1:]:
        make_tables()
    else:
        make_goldens()
