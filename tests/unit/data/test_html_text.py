import json
import re

import numpy as np
import pytest
from conftest import FIXTURES, SHARED_DATA

from korsquad.data.html_text import html_to_text, to_original_span, to_original_spans, to_text_span
from korsquad.data.metrics import normalize_korquad_v2

KORQUAD_V2 = SHARED_DATA / "korquad_v2.1"


def text_of(html):
    return html_to_text(html)[0]


def round_trip(html, start, end):
    """The original span that [start, end) becomes after mapping into the text view and back, and its text view."""
    text, offsets = html_to_text(html)
    s, e = to_text_span(text, offsets, start, end)
    a, b = to_original_span(html, offsets, s, e)
    return html[a:b], text[s:e]


def span_of(html, piece, occurrence=0):
    start = [m.start() for m in re.finditer(re.escape(piece), html)][occurrence]
    return start, start + len(piece)


# ---- the text view --------------------------------------------------------------------------------------------


def test_inline_tags_vanish_without_splitting_words():
    assert text_of("<p><b>신</b>대<i><a>철</a></i>은 <span>음악가</span>이다.</p>") == "신대철은 음악가이다."


def test_block_elements_become_line_breaks():
    html = "<h2>생애</h2><p>첫 문단</p><div>둘째<br/>줄</div><ul><li>하나</li><li>둘</li></ul><p>끝</p>"
    assert text_of(html) == "생애\n첫 문단\n둘째\n줄\n하나\n둘\n끝"


def test_table_cells_are_tab_separated_and_rows_are_lines():
    html = "<table><tr><th>출생</th><td>1967년</td></tr><tr><th>장르</th><td><a>록</a></td></tr></table>"
    assert text_of(html) == "출생\t1967년\n장르\t록"


def test_whitespace_runs_collapse_and_edges_are_trimmed():
    assert text_of("  <p>  a \n\t b&nbsp;&nbsp;c  </p>\n\n <div> \n d </div>  ") == "a b c\nd"


def test_entities_are_decoded_and_map_to_the_entity():
    html = "Sinawe &amp; 친구 &lt;2000&gt; &#44032;&#xAC00; AT&T &foo;"
    text, offsets = html_to_text(html)
    assert text == "Sinawe & 친구 <2000> 가가 AT&T &foo;"
    assert offsets[text.index("&")] == html.index("&amp;")
    assert offsets[text.index("가")] == html.index("&#44032;")
    assert offsets[text.index("가") + 1] == html.index("&#xAC00;")
    assert html[offsets[text.index("&T")]:][:2] == "&T"  # a '&' that starts no entity is text


def test_head_script_style_and_comments_are_not_text():
    html = ("<html><head><title>제목</title><style>p{}</style></head><body><!-- <p>주석</p> -->"
            "<p>본문</p><script>var s = '<p>코드</p>';</script><STYLE>b{}</STYLE><p>끝</p></body></html>")
    assert text_of(html) == "본문\n끝"


def test_unterminated_script_drops_the_rest_but_unterminated_head_ends_at_body():
    assert text_of("<p>앞</p><script>var a = 1; <p>뒤</p>") == "앞"
    assert text_of("<head><title>제목</title><body><p>본문</p>") == "본문"


def test_pre_keeps_its_line_breaks():
    assert text_of("<pre>첫 줄\n   둘째   줄</pre>다음") == "첫 줄\n둘째 줄\n다음"


def test_a_lone_less_than_sign_is_text():
    assert text_of("<p>a < b, 2<3</p>") == "a < b, 2<3"


def test_empty_and_markup_only_documents_give_empty_text():
    for html in ("", "   ", "<div><br/></div>", "<head><title>x</title></head>"):
        text, offsets = html_to_text(html)
        assert text == "" and len(offsets) == 0


def test_fixture_page_reads_like_the_page():
    text = text_of((FIXTURES / "html_page.html").read_text(encoding="utf-8"))
    assert text.splitlines() == [
        "시나위", "기본 정보", "결성\t1986년", "장르\t헤비 메탈, 하드 록", "멤버\t신대철", "김바다",
        "시나위는 대한민국의 록 밴드이다. Sinawe & 친구들이 1986년에 결성했다. 리더는 신대철이다.",
        "음반[편집]", "《Heavy Metal Sinawe》, 1986", "《Down and Up》, 1987", "재발매 <2000>", "첫 줄", "둘째 줄",
    ]


# ---- the offsets ----------------------------------------------------------------------------------------------


def test_offsets_follow_the_contract_on_the_fixture():
    html = (FIXTURES / "html_page.html").read_text(encoding="utf-8")
    text, offsets = html_to_text(html)
    assert offsets.dtype.kind == "i" and len(offsets) == len(text)
    assert np.all(np.diff(offsets) >= 0)
    for char, offset in zip(text, offsets):
        source = html[offset]
        if char in "\n\t":  # a separator maps to the tag that caused it, or is a line break kept in <pre>
            assert source == "<" or source == char == "\n"
        elif char == " ":  # a collapsed run maps to a whitespace character or to the entity (&nbsp;) it came from
            assert source.isspace() or source == "&"
        elif source == "&":
            assert html[offset:offset + 4] in ("&amp", "&lt;", "&gt;")
        else:
            assert char == source


def test_separator_maps_to_the_first_tag_of_its_run():
    html = "<td>A</td><td>B</td>"
    text, offsets = html_to_text(html)
    assert text == "A\tB"
    assert offsets.tolist() == [4, 5, 14]


# ---- span mapping ---------------------------------------------------------------------------------------------


def test_answer_inside_an_attribute_free_link():
    html = "<p>아버지는 <a>신중현</a>이다.</p>"
    original, shown = round_trip(html, *span_of(html, "<a>신중현</a>"))
    assert shown == "신중현"
    assert original == "신중현"


def test_answer_spanning_several_cells_of_a_row():
    html = "<table><tr><th>결성</th><td>1986년</td><td>서울</td></tr><tr><th>장르</th><td>록</td></tr></table>"
    gold = "<tr><th>결성</th><td>1986년</td><td>서울</td></tr>"
    original, shown = round_trip(html, *span_of(html, gold))
    assert shown == "결성\t1986년\t서울"
    assert normalize_korquad_v2(original) == normalize_korquad_v2(gold) == "결성1986년서울"


def test_answer_that_is_a_whole_list():
    html = "<p>음반:</p><ul><li>《Heavy Metal Sinawe》, 1986</li><li>《Down and Up》, 1987</li></ul><p>끝</p>"
    gold = html[html.index("<ul>"):html.index("</ul>") + 5]
    original, shown = round_trip(html, *span_of(html, gold))
    assert shown == "《Heavy Metal Sinawe》, 1986\n《Down and Up》, 1987"
    assert normalize_korquad_v2(original) == normalize_korquad_v2(gold)


def test_answer_across_nested_tags():
    html = "<p><b>시나위</b>는 <a>대한민국</a>의 <span><a>록</a> 밴드</span>이다.</p>"
    gold = "<a>대한민국</a>의 <span><a>록</a> 밴드</span>"
    original, shown = round_trip(html, *span_of(html, gold))
    assert shown == "대한민국의 록 밴드"
    assert normalize_korquad_v2(original) == normalize_korquad_v2(gold)


def test_span_ending_in_an_entity_takes_the_whole_entity_back():
    html = "<p>값은 &#44032;&#44033; 이다</p>"
    text, offsets = html_to_text(html)
    s = text.index("가")
    assert to_original_span(html, offsets, s, s + 2) == span_of(html, "&#44032;&#44033;")


def test_span_ending_in_a_separator_takes_the_whole_tag_back():
    html = "<td>A</td><td>B</td>"
    text, offsets = html_to_text(html)
    assert to_original_span(html, offsets, 0, 2) == (4, 10)  # "A</td>", not a cut "A<"


def test_text_span_skips_separators_at_its_edges():
    html = "<tr><th>결성</th><td>1986년</td><td>서울</td></tr>"
    text, offsets = html_to_text(html)
    s, e = to_text_span(text, offsets, *span_of(html, "1986년</td>"))  # "</td>" causes the tab after 1986년
    assert text[s:e] == "1986년"
    html = "<p>결성은 1986년이다.</p>"
    text, offsets = html_to_text(html)
    s, e = to_text_span(text, offsets, *span_of(html, " 1986년"))  # annotators sometimes take the space before
    assert text[s:e] == "1986년"


def test_a_span_that_shows_nothing_is_empty():
    html = "<p>a</p><script>x</script><p>b</p>"
    text, offsets = html_to_text(html)
    s, e = to_text_span(text, offsets, *span_of(html, "<script>x</script>"))
    assert s == e
    start, end = to_original_span(html, offsets, s, e)
    assert start == end


def test_random_markup_aligned_spans_survive_the_round_trip():
    # Documents glued from whole markup pieces; every span between two pieces must read the same after the trip.
    pieces = ["<p>", "</p>", "<table>", "<tr>", "</tr>", "<th>", "<td>", "</td>", "<ul>", "<li>", "</li>", "<a>",
              "</a>", "<b>", "</b>", "<br/>", "<pre>", "</pre>", "<!-- 주석 -->", "<script>s</script>",
              '<a title="x>y">', " ", "\n", "\t", "  ", "가", "나다", "x", "1", "&amp;", "&nbsp;", "&lt;", "&#44032;",
              "&middot;", "< ", "> ", "& "]
    rng = np.random.default_rng(7)
    for _ in range(400):
        chosen = [pieces[i] for i in rng.integers(0, len(pieces), rng.integers(0, 30))]
        html = "".join(chosen)
        text, offsets = html_to_text(html)
        assert np.all(np.diff(offsets) >= 0) and text == text.strip() and "  " not in text
        bounds = np.cumsum([0] + [len(piece) for piece in chosen])
        for _ in range(5):
            start, end = np.sort(rng.choice(bounds, 2))
            original, _ = round_trip(html, start, end)
            assert normalize_korquad_v2(original) == normalize_korquad_v2(html[start:end]), (html, start, end)


def test_spans_map_back_all_at_once_as_one_by_one():
    html = (FIXTURES / "html_page.html").read_text(encoding="utf-8") + "<td>A</td><td>AT&amp;T &foo; &lt;b&gt;</td>"
    text, offsets = html_to_text(html)
    rng = np.random.default_rng(3)
    starts = np.sort(rng.integers(0, len(text) + 1, 500))
    ends = np.minimum(starts + rng.integers(0, 12, 500), len(text))
    original_starts, original_ends = to_original_spans(html, offsets, starts, ends)
    assert list(zip(original_starts.tolist(), original_ends.tolist())) == [
        to_original_span(html, offsets, int(s), int(e)) for s, e in zip(starts, ends)]
    empty_text = to_original_spans("<p></p>", np.zeros(0, dtype=np.int64), np.zeros(2, int), np.zeros(2, int))
    assert [a.tolist() for a in empty_text] == [[7, 7], [7, 7]]


# ---- real KorQuAD 2.1 documents ----------------------------------------------------------------------------------


def sample_documents():
    if not KORQUAD_V2.is_dir():
        pytest.skip(f"real KorQuAD 2.1 samples not found at {KORQUAD_V2} (the shared data folder is absent)")
    return [doc for name in ("dev.sample.json", "train.sample.json")
            for doc in json.loads((KORQUAD_V2 / name).read_text(encoding="utf-8"))["data"]]


def test_every_sample_answer_is_recoverable_with_the_korquad_v2_metric():
    checked = 0
    for doc in sample_documents():
        for qa in doc["qas"]:
            answer = qa["answer"]
            for html, start, gold in ((doc["context"], answer["answer_start"], answer["text"]),
                                      (doc["raw_html"], answer["html_answer_start"], answer["html_answer_text"])):
                assert html[start:start + len(gold)] == gold
                original, shown = round_trip(html, start, start + len(gold))
                assert shown
                assert normalize_korquad_v2(original) == normalize_korquad_v2(gold), qa["id"]
                checked += 1
    assert checked == 6


def test_every_cell_row_and_list_item_of_the_samples_is_recoverable():
    checked = 0
    for html in (page for doc in sample_documents() for page in (doc["context"], doc["raw_html"])):
        for name in ("td", "th", "li", "tr", "ul", "table"):
            # Innermost elements of that name: none of the same name opens between the start and end tag.
            for match in re.finditer(rf"<{name}\b[^>]*>(?:(?!<{name}\b).)*?</{name}>", html, re.DOTALL):
                original, _ = round_trip(html, match.start(), match.end())
                assert normalize_korquad_v2(original) == normalize_korquad_v2(match.group()), match.group()
                checked += 1
    assert checked > 300  # the samples hold hundreds of such elements


def test_attributes_scripts_and_head_of_the_raw_page_do_not_change_the_text():
    for doc in sample_documents():
        assert text_of(doc["raw_html"]) == text_of(doc["context"])

