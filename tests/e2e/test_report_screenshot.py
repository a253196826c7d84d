"""The demo's Snakemake report rendered in headless Chromium: the summary pages of ``_sr1_v0.2``
(event_info, peaks, raw_records) and every figure of them show, as non-empty images, in the
number expected -- clicked through the report's own menus (Results > Superrun _sr1_v0.2 > data
type > the eye of each row), and each summary page opened on its own.

Needs Debian's ``chromium`` (``apt-get install chromium``; CI installs it): skipped without it,
naming it, except in CI, where its absence fails. Screenshots of every view are kept in the
test's temporary directory."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from support.chromium import Chromium, chromium_binary
from support.workflows import SNAKEMAKE, copy_demo

pytestmark = pytest.mark.e2e

SUPERRUN = "_sr1_v0.2"
#: The figures of each summary page, besides the superrun's own (livetime and exposure).
PAGES = {"event_info": ["rate", "area_spectra", "drift_time"],
         "peaks": ["rate", "area_width", "waveforms"],
         "raw_records": ["rate", "waveforms"]}
SUPERRUN_FIGURES = ["exposure"]      # livetime per subrun and cumulative exposure, two panels
EXPECTED_IMAGES = {("(all)", name) for name in SUPERRUN_FIGURES} | {
    (dt, name) for dt, names in PAGES.items() for name in names}
#: An image counts as empty below this share of non-white pixels.
MIN_INKED = 0.01


def needs_chromium():
    if chromium_binary() is None:
        if os.environ.get("CI"):
            raise AssertionError("CI: headless Chromium is missing (.ci/run installs Debian's chromium)")
        pytest.skip("needs headless Chromium: apt-get install chromium (Debian); CI installs it")


@pytest.fixture(scope="module")
def report(built_demo, tmp_path_factory) -> Path:
    """The demo with _sr1_v0.2's three summary pages built, and its report."""
    root = copy_demo(built_demo, tmp_path_factory.mktemp("report"))
    targets = [f"summary/{SUPERRUN}/{dt}.html" for dt in PAGES]
    for args in (["--cores", "2", *targets], ["--report", "report.html", *targets]):
        result = subprocess.run([str(SNAKEMAKE), *args], cwd=root, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
    return root


def results(report: Path) -> dict:
    """The report's results (Snakemake's ``var results = {...}``): path -> labels, mime, data URI."""
    match = re.search(r"var results = (\{.*?\});\n", (report / "report.html").read_text(), re.S)
    return json.loads(match[1])


def inked(png: bytes) -> float:
    """The share of a PNG's pixels that are not white."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - sum(histogram[240:]) / (image.width * image.height)


def test_the_report_holds_every_figure_with_its_caption(report):
    found = {(r["labels"]["data type"], r["labels"]["figure"]): r for r in results(report).values()}
    images = {key for key, r in found.items() if r["mime_type"] == "image/png"}
    assert images == EXPECTED_IMAGES
    assert {key for key, r in found.items() if r["mime_type"] == "text/html"} == {
        (dt, "summary page") for dt in PAGES}
    for (data_type, figure), r in found.items():
        assert r["labels"]["superrun"] == SUPERRUN and len(r["caption"]) > 80, (data_type, figure)
        if r["mime_type"] == "image/png":
            png = base64.b64decode(r["data_uri"].split(",", 1)[1])
            assert inked(png) > MIN_INKED, (data_type, figure)


# In the report's page: click a link of its menus by its text; show row i of the results
# table (its eye button) and say what the content pane then shows.
HELPERS = r"""
window.check = {
  sleep: ms => new Promise(r => setTimeout(r, ms)),
  async click(text) {
    const link = [...document.querySelectorAll('#app a')].find(a => a.innerText.trim() === text);
    if (!link) throw new Error('no link ' + JSON.stringify(text) + ' in the menu');
    link.click();
    await check.sleep(150);
  },
  rows: () => [...document.querySelectorAll('#app tr')].filter(tr => tr.querySelector('a[iconname="eye"]')),
  inked(img) {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const g = canvas.getContext('2d'); g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) n++;
    return n / (canvas.width * canvas.height);
  },
  async show(i) {
    const row = check.rows()[i];
    const labels = [...row.querySelectorAll('td')].map(td => td.innerText.trim()).filter(t => t);
    row.querySelector('a[iconname="eye"]').click();
    for (let k = 0; k < 100; k++) {
      await check.sleep(50);
      const el = [...document.querySelectorAll('#app img, #app iframe')]
        .find(e => e.getAttribute('src') === app.state.contentPath);
      if (el && el.tagName === 'IFRAME') return {labels, kind: 'iframe', src: el.getAttribute('src').slice(0, 30)};
      if (el && el.complete) {
        await el.decode();
        return {labels, kind: 'img', width: el.naturalWidth, height: el.naturalHeight, inked: check.inked(el)};
      }
    }
    return {labels, kind: 'nothing shown'};
  },
};
true
"""


def test_every_figure_shows_in_chromium(report, tmp_path):
    needs_chromium()
    shown = {}
    with Chromium.start(tmp_path / "profile") as browser:
        page = browser.open((report / "report.html").as_uri())
        page.wait_for("typeof app !== 'undefined' && document.querySelector('#app a') !== null")
        page.evaluate(HELPERS)
        page.evaluate("check.click('Results')")
        for subcategory in [*PAGES, "livetime and exposure"]:
            page.evaluate(f"check.click({json.dumps(f'Superrun {SUPERRUN}')})")
            page.evaluate(f"check.click({json.dumps(subcategory)})")
            for i in range(page.evaluate("check.rows().length")):
                view = page.evaluate(f"check.show({i})")
                superrun, data_type, figure = view["labels"][:3]
                shot = page.screenshot()
                (tmp_path / f"{data_type}-{figure}.png".replace(" ", "_")).write_bytes(shot)
                shown[(data_type, figure)] = view
                assert superrun == SUPERRUN and inked(shot) > MIN_INKED, view
    images = {key: view for key, view in shown.items() if view["kind"] == "img"}
    assert set(images) == EXPECTED_IMAGES, shown
    for key, view in images.items():
        assert view["width"] >= 400 and view["height"] >= 200 and view["inked"] > MIN_INKED, (key, view)
    pages = {key for key, view in shown.items() if view["kind"] == "iframe"}
    assert pages == {(dt, "summary page") for dt in PAGES}


def test_every_summary_page_shows_its_figures_in_chromium(report, tmp_path):
    needs_chromium()
    with Chromium.start(tmp_path / "profile") as browser:
        for data_type, names in PAGES.items():
            path = report / "data" / "summary" / SUPERRUN / f"{data_type}.html"
            page = browser.open(path.as_uri(), height=3000)
            page.evaluate(HELPERS)
            images = page.evaluate("Promise.all([...document.images].map(async img => { await img.decode(); "
                                   "return [img.closest('figure').id, img.naturalWidth, check.inked(img)]; }))")
            assert [name for name, _, _ in images] == SUPERRUN_FIGURES + names, data_type
            assert all(width >= 400 and share > MIN_INKED for _, width, share in images), images
            (tmp_path / f"page-{data_type}.png").write_bytes(page.screenshot())
