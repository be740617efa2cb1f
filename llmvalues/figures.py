"""Report figures, rendered as SVG text that is byte-identical on every run.

Figures are drawn on a ``matplotlib.figure.Figure`` with an explicit Agg canvas,
not through pyplot, so drawing changes no global matplotlib state and needs no
display. Three settings make the SVG reproducible: a fixed ``svg.hashsalt`` (the
seed of the element ids), no ``Date`` metadata, and matplotlib's bundled DejaVu
Sans font, so text is measured the same way on every machine. Text is written as
SVG text elements, not glyph outlines, so the value codes can be searched and
selected.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .values import CIRCLE_ORDER

# Okabe-Ito colours without yellow, which is hard to see on white paper. Black is
# kept for the human means.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
# After every colour has been used once, the next models get the next line style.
LINE_STYLES = ("-", "-.", ":")
HUMAN_COLOUR = "#000000"

SVG_SETTINGS = {
    "svg.hashsalt": "llmvalues",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
}


def model_styles(models: list[str]) -> dict[str, dict[str, str]]:
    """Assign each model a colour, marker and line style by its position in ``models``.

    Pass the models in their params.yaml order: a model keeps its style as long
    as it keeps its position, and a model appended at the end changes no other
    model's style.
    """
    styles = {}
    for position, model in enumerate(models):
        styles[model] = {
            "color": PALETTE[position % len(PALETTE)],
            "marker": MARKERS[position % len(MARKERS)],
            "linestyle": LINE_STYLES[(position // len(PALETTE)) % len(LINE_STYLES)],
        }
    return styles


def render_profiles_svg(profiles: pd.DataFrame, human_means: pd.Series, *,
                        human_label: str = "human means") -> str:
    """Draw each model's mean centered score per value, with the human means, as SVG text.

    Parameters
    ----------
    profiles : DataFrame
        One row per model, indexed by model slug in params.yaml order (which sets
        the colours), one column per value code. A NaN leaves a gap in the model's
        line, so a missing score is never drawn as 0.
    human_means : Series
        The human mean of each value, indexed by value code.
    human_label : str, default="human means"
        The legend entry of the human line.

    Returns
    -------
    str
        A complete SVG document, with the values on the x axis in circle order.
    """
    codes = list(CIRCLE_ORDER)
    positions = np.arange(len(codes))
    styles = model_styles(list(profiles.index))

    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(10.0, 5.0), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.axhline(0.0, color="#999999", linewidth=0.8, zorder=1)
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)

        for model in profiles.index:
            scores = profiles.loc[model].reindex(codes).to_numpy(dtype=float)
            label = model if np.isfinite(scores).any() else f"{model} (no scores)"
            axes.plot(positions, scores, label=label, linewidth=1.6, markersize=5.5, zorder=3, **styles[model])

        human = human_means.reindex(codes).to_numpy(dtype=float)
        axes.plot(positions, human, label=human_label, color=HUMAN_COLOUR, linestyle="--", linewidth=1.6,
                  marker="o", markersize=6.5, markerfacecolor="white", markeredgewidth=1.4, zorder=4)

        axes.set_xticks(positions, codes)
        axes.set_xlim(-0.5, len(codes) - 0.5)
        axes.set_xlabel("value, in circle order")
        axes.set_ylabel("mean centered score (value minus MRAT)")
        axes.spines[["top", "right"]].set_visible(False)
        columns = min(len(profiles.index) + 1, 4)
        figure.legend(loc="outside lower center", ncols=columns, frameon=False)

        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
