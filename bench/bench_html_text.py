"""Speed of korsquad.data.html_text.html_to_text on a KorQuAD 2.x-sized page against the standard library's HTMLParser.

    python bench/bench_html_text.py [--repeats 5]

1. A page of the benchmark size: tests/fixtures/html_page.html with its body repeated to about 15,000 characters
   (a KorQuAD 2.x document's size), then the same page with the body repeated 8 times as often.
2. Each page is converted by `html_to_text` (text and character map) and, as the baseline, by a
   `html.parser.HTMLParser` that only collects the text between tags (no map, no whitespace rule); the fastest of
   `--repeats` runs counts.
3. `vs_html_parser` is html_to_text's time over the baseline's on the benchmark page; `scaling` is its time per
   character on the 8x page over that on the benchmark page: about 1 for a linear conversion, near 8 for a
   quadratic one (the slowness the unit test of this used to catch with a wall-clock bound).

The last line printed is one JSON object.
"""

import argparse
import json
import time
from html.parser import HTMLParser
from pathlib import Path

from korsquad.data.html_text import html_to_text

PAGE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "html_page.html"
BENCHMARK_CHARS = 15_000


def page_of(chars):
    """The fixture page with its body repeated to at least `chars` characters."""
    html = PAGE.read_text(encoding="utf-8")
    body = html[html.index("<body>"):html.index("</body>")]
    return html[:html.index("<body>")] + body * (chars // len(body) + 1) + "</body></html>"


class TextCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def parser_text(html):
    collector = TextCollector()
    collector.feed(html)
    collector.close()
    return "".join(collector.parts)


def fastest(convert, html, repeats):
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        convert(html)
        timings.append(time.perf_counter() - begin)
    return min(timings)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    small, large = page_of(BENCHMARK_CHARS), page_of(8 * BENCHMARK_CHARS)
    html_to_text(small)  # first call: imports and regex compilation out of the timing
    ours, baseline = fastest(html_to_text, small, args.repeats), fastest(parser_text, small, args.repeats)
    ours_large = fastest(html_to_text, large, args.repeats)
    scaling = (ours_large / len(large)) / (ours / len(small))
    print(f"html_to_text  {len(small):>7,} chars  {1000 * ours:8.2f} ms")
    print(f"HTMLParser    {len(small):>7,} chars  {1000 * baseline:8.2f} ms")
    print(f"html_to_text  {len(large):>7,} chars  {1000 * ours_large:8.2f} ms")
    print(json.dumps({"page_chars": len(small), "html_to_text_ms": round(1000 * ours, 3),
                      "html_parser_ms": round(1000 * baseline, 3), "vs_html_parser": round(ours / baseline, 2),
                      "large_page_chars": len(large), "html_to_text_large_ms": round(1000 * ours_large, 3),
                      "scaling": round(scaling, 2)}))


if __name__ == "__main__":
    main()
