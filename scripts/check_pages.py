#!/usr/bin/env python3
"""Checks that generated HTML pages fit a browser window, with a headless Chromium.

For each page: loads it at the window size (default 1300 x 900), measures how far the page and
each table reach past the window's width, and saves a full-page screenshot beside the report
(`--screenshots DIR`). Exit status 1 when any page or table runs past the window.

    apt-get install chromium                      # Debian's package; not needed by the build or CI
    scripts/check_pages.py build/demo/report.html eval/evaluation.html results/rl/report.html

The measurement runs in the page itself: a copy of the page gets a script that writes the widths
into the DOM, and `chromium --headless --dump-dom` prints that DOM after load.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROBE = """<script>
addEventListener("load", () => {
  const w = document.documentElement.clientWidth;
  const tables = [...document.querySelectorAll("table")].map((t, i) => ({
    index: i, scroll_width: t.scrollWidth, box_width: t.clientWidth,
    right: Math.round(t.getBoundingClientRect().right)}));
  const out = {window_width: w, page_width: document.documentElement.scrollWidth,
               tables: tables.filter(t => t.scroll_width > t.box_width + 1 || t.right > w)};
  const p = document.createElement("pre");
  p.id = "page-fit";
  p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
});
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("check_pages: no chromium on PATH (apt-get install chromium)")


def run(browser, args):
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


def measure(browser, page, width, height):
    with tempfile.TemporaryDirectory() as tmp:
        with open(page, encoding="utf-8") as f:
            text = f.read()
        probed = text.replace("</body>", PROBE + "</body>", 1) if "</body>" in text else text + PROBE
        copy = os.path.join(tmp, "page.html")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(probed)
        dom = run(browser, [f"--window-size={width},{height}", "--virtual-time-budget=5000", "--dump-dom",
                            "file://" + copy]).stdout
    found = re.search(r'<pre id="page-fit">(.*?)</pre>', dom, re.S)
    if not found:
        raise RuntimeError(f"{page}: the probe did not report (chromium printed {len(dom)} bytes)")
    return json.loads(found.group(1).replace("&quot;", '"'))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--width", type=int, default=1300)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--screenshots", help="folder for full-page screenshots (default: none)")
    args = ap.parse_args()
    browser = chromium()
    failed = False
    for page in args.pages:
        fit = measure(browser, page, args.width, args.height)
        over = fit["page_width"] - fit["window_width"]
        verdict = "fits" if over <= 0 and not fit["tables"] else "RUNS PAST THE WINDOW"
        failed |= verdict != "fits"
        print(f"{page}: {verdict} (window {fit['window_width']} px, page {fit['page_width']} px, "
              f"{len(fit['tables'])} table(s) wider than their box)")
        for t in fit["tables"]:
            print(f"  table {t['index']}: {t['scroll_width']} px of content in a {t['box_width']} px box")
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            name = os.path.splitext(os.path.basename(page))[0] + ".png"
            # Tall enough for the whole page: the width is what is checked.
            run(browser, [f"--window-size={args.width},4000", "--screenshot=" + os.path.join(args.screenshots, name),
                          "file://" + os.path.abspath(page)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
