"""Charts as self-contained SVG through matplotlib, the same bytes for the same data.

The model card's loss curve and the RL report's accuracy curves use it. Reruns must not churn the
committed files, so the SVG carries no date and its element ids come from a fixed salt; text stays
text (not glyph outlines), which keeps the pages small and searchable.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams.update({"svg.hashsalt": "sparsegate", "svg.fonttype": "none",
                            "font.family": "sans-serif", "font.size": 9})


def figure(width_px, height_px):
    """A figure and its axes, sized in CSS pixels."""
    return plt.subplots(figsize=(width_px / 100, height_px / 100), dpi=100)


def to_svg(fig, inline=False):
    """The figure as SVG text, then closed. inline: without the XML prolog, for an HTML page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")  # legends outside the axes too
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):] if inline else text
