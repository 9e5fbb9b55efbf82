import pytest

from app.analysis import Keyword, analyze, count_sentences, is_keyword, script_of, strip_josa, tokenize


def test_tokenize_english_lowercases_and_keeps_apostrophes() -> None:
    assert tokenize("It's FastAPI’s day, isn't it?")  # noqa: RUF001 - the typographic apostrophe on purpose == ["it's", "fastapi's", "day", "isn't", "it"]


def test_tokenize_splits_korean_particles() -> None:
    assert tokenize("서울에서 회의를 했다. 서울은 크다") == ["서울", "회의", "했다", "서울", "크다"]


def test_tokenize_drops_particle_glued_to_latin_word_or_number() -> None:
    assert tokenize("API를 3개를 썼다") == ["api", "3", "개", "썼다"]


def test_tokenize_keeps_verb_stems_with_ha_whole() -> None:
    assert tokenize("사용하는 공부하는") == ["사용하는", "공부하는"]


def test_tokenize_han_and_kana_are_one_character_each() -> None:
    assert tokenize("日本語とテスト") == ["日", "本", "語", "と", "テ", "ス", "ト"]


def test_tokenize_numbers_and_other_scripts() -> None:
    assert tokenize("Версия 3.14 и 1,000") == ["версия", "3.14", "и", "1,000"]


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("서울에서", "서울"),
        ("학교에", "학교"),
        ("책을", "책"),
        ("이", "이"),
        ("사과", "사"),
        ("나무", "나무"),
    ],
)
def test_strip_josa(word: str, stem: str) -> None:
    # "사과" (apple) loses "과" (and): a known limit of suffix stripping without a dictionary.
    assert strip_josa(word) == stem


@pytest.mark.parametrize(
    ("token", "script"),
    [("서울", "hangul"), ("日", "han"), ("word", "letters"), ("42", "number"), ("!", "other")],
)
def test_script_of(token: str, script: str) -> None:
    assert script_of(token) == script


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("   ", 0),
        ("One. Two! Three?", 3),
        ("No terminal punctuation", 1),
        ("첫 문장입니다. 두 번째 문장이에요!", 2),
        ("文一。文二！", 2),  # noqa: RUF001 - CJK full-width punctuation on purpose
        ("paragraph one\n\nparagraph two", 2),
        ("version 3.14 is out.", 1),
    ],
)
def test_count_sentences(text: str, count: int) -> None:
    assert count_sentences(text) == count


@pytest.mark.parametrize(
    ("token", "expected"),
    [("the", False), ("그리고", False), ("42", False), ("x", False), ("語", True), ("api", True)],
)
def test_is_keyword(token: str, expected: bool) -> None:
    assert is_keyword(token) is expected


def test_analyze_mixed_text() -> None:
    result = analyze("The API is fast. 서울에서 API를 테스트했다! 서울은 크다.", top_k=3)
    # the, api, is, fast, 서울, api (its 를 dropped), 테스트했다, 서울, 크다
    assert result.characters == 41
    assert result.sentences == 3
    assert result.tokens == 9
    assert result.unique_tokens == 7
    assert result.scripts == {"hangul": 4, "letters": 5}
    assert result.keywords == [Keyword("api", 2), Keyword("서울", 2), Keyword("fast", 1)]


def test_analyze_ties_keep_first_occurrence_order() -> None:
    result = analyze("zeta alpha beta alpha beta zeta", top_k=2)
    assert result.keywords == [Keyword("zeta", 2), Keyword("alpha", 2)]


def test_analyze_only_stopwords_has_no_keywords() -> None:
    result = analyze("the and of")
    assert result.keywords == []
    assert result.tokens == 3
