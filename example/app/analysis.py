"""Text analytics in pure Python: sentences, tokens, scripts and top keywords.

Tokenisation is script-aware rather than language-specific: runs of Hangul, of other letters (Latin,
Cyrillic, Greek, ...) and of digits are separate tokens even when written together ("API를" is "api" plus
the particle), Han and kana characters are one token each (those scripts do not separate words with spaces),
and a Korean particle (josa) attached to a noun is split off so that "서울에서" and "서울은" both count as
"서울".
"""

import re
from collections import Counter
from dataclasses import dataclass

_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
_HAN_KANA = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(
    rf"(?P<hangul>[{_HANGUL}]+)"
    rf"|(?P<han>[{_HAN_KANA}])"
    rf"|(?P<letters>(?:(?![{_HANGUL}{_HAN_KANA}])[^\W\d_])+(?:['\u2019](?:(?![{_HANGUL}{_HAN_KANA}])[^\W\d_])+)*)"
    r"|(?P<number>\d+(?:[.,]\d+)*)"
)
# A sentence ends at terminal punctuation followed by space (so "3.14" is not an end), at CJK full-width
# terminal punctuation (no space follows it in CJK text), or at a blank line.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?\u2026])\s+|(?<=[\u3002\uff01\uff1f])\s*|\n\s*\n")

# Korean particles and copula endings, longest first so that "에서" wins over "서".
_JOSA = tuple(
    sorted(
        {
            "이", "가", "은", "는", "을", "를", "의", "에", "에서", "에게", "께", "께서",
            "한테", "으로", "로", "와", "과", "도", "만", "까지", "부터", "보다", "처럼",
            "이나", "나", "이랑", "랑", "하고", "이다", "입니다", "이며", "으로서", "로서",
            "으로써", "로써", "에는", "에서는", "으로는", "로는", "에도", "과는", "와는",
            "들", "들은", "들이", "들을", "들의",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip

STOPWORDS = frozenset(
    {
        # English function words
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "do", "does", "for", "from",
        "had", "has", "have", "he", "her", "his", "i", "if", "in", "into", "is", "it", "its", "it's", "me",
        "my", "no", "not", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them",
        "then", "there", "these", "they", "this", "those", "to", "too", "us", "was", "we", "were", "what",
        "when", "which", "who", "will", "with", "would", "you", "your",
        # Korean function words that survive particle stripping
        "그", "이", "저", "것", "수", "등", "및", "또", "또한", "그리고", "하지만",
        "그러나", "그래서", "때문", "있다", "있는", "없다", "하는", "한다", "했다",
        "합니다", "있습니다", "우리", "저희",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Keyword:
    token: str
    count: int


@dataclass(frozen=True, slots=True)
class Analysis:
    characters: int
    sentences: int
    tokens: int
    unique_tokens: int
    scripts: dict[str, int]
    keywords: list[Keyword]


_JOSA_SET = frozenset(_JOSA)


def strip_josa(word: str) -> str:
    """Remove one trailing Korean particle when at least one syllable of stem is left.

    A stem ending in 하 is a verb ("사용하는" = "use" + adnominal ending), not a noun with a particle, so it
    is left whole.
    """
    for particle in _JOSA:
        if word.endswith(particle) and len(word) > len(particle):
            stem = word[: -len(particle)]
            return word if stem.endswith("하") else stem
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens in text order, Korean particles split off (see the module docstring)."""
    tokens: list[str] = []
    previous_end = -1
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        token = match.group()
        glued = match.start() == previous_end
        previous_end = match.end()
        if kind == "hangul":
            if glued and token in _JOSA_SET:
                continue  # the particle of the Latin word or number right before it ("API를")
            token = strip_josa(token)
        elif kind == "letters":
            token = token.lower().replace("\u2019", "'")
        tokens.append(token)
    return tokens


def script_of(token: str) -> str:
    """The script class a token belongs to: hangul, han (incl. kana), latin-like letters, or number."""
    match = _TOKEN_RE.fullmatch(token)
    return match.lastgroup if match and match.lastgroup else "other"


def count_sentences(text: str) -> int:
    return sum(1 for part in _SENTENCE_END_RE.split(text) if part.strip())


def is_keyword(token: str) -> bool:
    """Content words only: no stopwords, no numbers, no single Latin letters."""
    if token in STOPWORDS or token[0].isdigit():
        return False
    return not (len(token) == 1 and token.isascii())


def analyze(text: str, top_k: int = 10) -> Analysis:
    """Count sentences, tokens and scripts and pick the `top_k` most frequent keywords.

    Ties are broken by first occurrence so the result is deterministic.
    """
    tokens = tokenize(text)
    scripts = Counter(script_of(token) for token in tokens)
    # Counter keeps insertion order, and most_common() is a stable sort: ties stay in first-seen order.
    counts = Counter(token for token in tokens if is_keyword(token))
    return Analysis(
        characters=len(text),
        sentences=count_sentences(text),
        tokens=len(tokens),
        unique_tokens=len(set(tokens)),
        scripts=dict(sorted(scripts.items())),
        keywords=[Keyword(token, count) for token, count in counts.most_common(top_k)],
    )
