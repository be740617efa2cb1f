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
# The lowest alpha drawn: values and interval bounds below it are drawn at it.
ALPHA_FLOOR = -1.0
# Bins of the value difference in which the dilemma figure shows the observed share of A answers.
DILEMMA_BINS = 6

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

        return _svg_text(figure)


def _svg_text(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def render_structure_svg(configuration: pd.DataFrame, *, title: str, colour: str) -> str:
    """Draw one MDS map: the fitted points, turned to the theoretical circle, with their labels.

    Parameters
    ----------
    configuration : DataFrame
        ``llmvalues.structure.configuration_table`` of one fit: columns point,
        value, map_x, map_y, theory_x, theory_y and out_of_order.
    title : str
        The heading drawn above the map (the model, or "pooled").
    colour : str
        The colour of the fitted points (the model's colour in every figure).

    Returns
    -------
    str
        A complete SVG document. Grey rings mark the theoretical positions (labelled
        in grey outside the circle when there are at most 30 points), a thin line
        joins each to its fitted point, and points out of theoretical order are
        drawn as crosses.
    """
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(6.0, 6.3), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        angles = np.linspace(0.0, 2.0 * np.pi, 361)
        axes.plot(np.cos(angles), np.sin(angles), color="#bbbbbb", linewidth=0.9, zorder=1)
        axes.scatter(configuration["theory_x"], configuration["theory_y"], s=28, facecolors="white",
                     edgecolors="#888888", linewidths=0.9, zorder=2, label="theoretical position")
        for row in configuration.itertuples(index=False):
            axes.plot([row.theory_x, row.map_x], [row.theory_y, row.map_y], color="#cccccc",
                      linewidth=0.7, zorder=1)
        in_order = configuration[~configuration["out_of_order"].astype(bool)]
        out = configuration[configuration["out_of_order"].astype(bool)]
        axes.scatter(in_order["map_x"], in_order["map_y"], s=30, color=colour, zorder=3,
                     label="fitted, in order")
        if len(out):
            axes.scatter(out["map_x"], out["map_y"], s=46, color=colour, marker="X", zorder=3,
                         label="fitted, out of order")
        for row in configuration.itertuples(index=False):
            axes.annotate(str(row.point), (row.map_x, row.map_y), xytext=(4, 3),
                          textcoords="offset points", fontsize=8.5, zorder=4)
        if len(configuration) <= 30:  # item-level maps have too many points to label the circle
            for row in configuration.itertuples(index=False):
                # Outside the ring, clear of fitted points that sit near their theoretical place.
                axes.text(1.24 * row.theory_x, 1.24 * row.theory_y, str(row.point), color="#888888",
                          fontsize=7.5, ha="center", va="center", zorder=2)
        extent = float(np.nanmax(np.abs(configuration[["map_x", "map_y"]].to_numpy(dtype=float))))
        limit = max(1.4, extent * 1.15)
        axes.set_xlim(-limit, limit)
        axes.set_ylim(-limit, limit)
        axes.set_aspect("equal")
        axes.set_title(title)
        axes.set_xlabel("dimension 1 (turned to the theoretical circle, unit mean radius)")
        axes.set_ylabel("dimension 2")
        figure.legend(loc="outside lower center", ncols=3, frameon=False, fontsize=8.5)
        return _svg_text(figure)


def render_alpha_svg(reliability: pd.DataFrame, models: list[str]) -> str:
    """Draw Cronbach's raw alpha per value and model with its Feldt interval, values in circle order.

    ``reliability`` has the columns model, value, alpha_raw, feldt_lower and
    feldt_upper. A NaN alpha (no variance) is left out, never drawn as 0. The
    axis runs from -1 to 1: an alpha below -1 is a downward triangle at -1, and
    an interval bar below -1 is cut there.
    """
    codes = list(CIRCLE_ORDER)
    positions = np.arange(len(codes))
    styles = model_styles(models)
    offsets = np.linspace(-0.25, 0.25, len(models)) if len(models) > 1 else np.zeros(1)
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(10.0, 4.8), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.axhline(0.0, color="#999999", linewidth=0.8, zorder=1)
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        for offset, model in zip(offsets, models):
            rows = reliability[reliability["model"] == model].set_index("value").reindex(codes)
            alpha = rows["alpha_raw"].to_numpy(dtype=float)
            lower = rows["feldt_lower"].to_numpy(dtype=float)
            upper = rows["feldt_upper"].to_numpy(dtype=float)
            # Alpha has no lower bound, so the axis stops at ALPHA_FLOOR. A value or bound
            # below it is drawn at the floor, a value as a downward triangle.
            drawn = np.isfinite(alpha) & (alpha >= ALPHA_FLOOR)
            below = np.isfinite(alpha) & (alpha < ALPHA_FLOOR)
            label = model if np.isfinite(alpha).any() else f"{model} (no alpha)"
            style = styles[model]
            low = np.maximum(lower[drawn], ALPHA_FLOOR)
            axes.errorbar(positions[drawn] + offset, alpha[drawn],
                          yerr=[alpha[drawn] - low, upper[drawn] - alpha[drawn]],
                          fmt=style["marker"], color=style["color"], markersize=5, linewidth=1.0,
                          capsize=2, label=label, zorder=3)
            if below.any():
                axes.plot(positions[below] + offset, np.full(below.sum(), ALPHA_FLOOR), linestyle="none",
                          marker="v", color=style["color"], markersize=6, zorder=3)
        axes.set_xticks(positions, codes)
        axes.set_xlim(-0.5, len(codes) - 0.5)
        axes.set_ylim(ALPHA_FLOOR - 0.05, 1.05)
        axes.set_xlabel("value, in circle order")
        axes.set_ylabel("Cronbach's alpha (raw) with its interval")
        axes.spines[["top", "right"]].set_visible(False)
        figure.legend(loc="outside lower center", ncols=min(len(models), 4), frameon=False)
        return _svg_text(figure)


def render_discriminant_svg(scores: pd.DataFrame, models: list[str]) -> str:
    """Draw the trials' discriminant scores, coloured by model.

    ``scores`` has the columns LD1 (and LD2 when there are more than two
    models) and model. With two functions or more the first two are plotted
    against each other. With one function each model's scores lie on its own
    row, so overlap between two models shows along the axis.
    """
    styles = model_styles(models)
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(7.0, 5.0), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        two_functions = "LD2" in scores.columns
        for position, model in enumerate(models):
            rows = scores[scores["model"] == model]
            style = styles[model]
            y = rows["LD2"] if two_functions else np.full(len(rows), float(position))
            axes.scatter(rows["LD1"], y, color=style["color"], marker=style["marker"], s=34, label=model, zorder=3)
        axes.set_xlabel("discriminant function 1")
        if two_functions:
            axes.set_ylabel("discriminant function 2")
        else:
            axes.set_yticks(range(len(models)), models)
            axes.set_ylim(-0.7, len(models) - 0.3)
        axes.grid(color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        axes.spines[["top", "right"]].set_visible(False)
        figure.legend(loc="outside lower center", ncols=min(len(models), 4), frameon=False)
        return _svg_text(figure)


def render_dilemma_svg(choices: pd.DataFrame, curves: pd.DataFrame, models: list[str]) -> str:
    """Draw the side each answer took against the value difference, with each model's fitted curve.

    ``choices`` has the columns model, value_diff and chose_a (0 or 1); the points
    are drawn at 0 and 1 with a small vertical jitter (seeded, so the SVG is the
    same on every run) so that overlapping answers stay visible. ``curves`` has
    the columns model, value_diff and probability: the fitted probability of
    choosing option A. A model with no curve (the fit failed) shows points only.
    Large markers give each model's observed share of A answers in up to
    ``DILEMMA_BINS`` bins of about equal size along the value difference.
    """
    styles = model_styles(models)
    jitter = np.random.default_rng(0)
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(7.0, 5.0), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for model in models:
            style = styles[model]
            rows = choices[choices["model"] == model]
            offsets = jitter.uniform(-0.04, 0.04, size=len(rows))
            axes.scatter(rows["value_diff"], rows["chose_a"] + offsets, color=style["color"], marker=style["marker"],
                         s=14, alpha=0.35, linewidths=0, zorder=2)
            if len(rows):
                bins = pd.qcut(rows["value_diff"].rank(method="first"), min(DILEMMA_BINS, len(rows)), labels=False)
                shares = rows.groupby(bins).agg(value_diff=("value_diff", "mean"), share=("chose_a", "mean"))
                axes.scatter(shares["value_diff"], shares["share"], color=style["color"], marker=style["marker"],
                             s=60, edgecolors="white", linewidths=0.8, zorder=4)
            curve = curves[curves["model"] == model].sort_values("value_diff")
            if curve.empty:
                axes.scatter([], [], color=style["color"], marker=style["marker"], label=f"{model} (no fit)")
            else:
                # Markers along the line keep a curve visible where another model's curve covers it.
                axes.plot(curve["value_diff"], curve["probability"], color=style["color"],
                          linestyle=style["linestyle"], linewidth=2.0, label=model, zorder=3,
                          marker=style["marker"], markevery=0.12, markersize=6, markeredgecolor="white")
        axes.axvline(0.0, color="#888888", linewidth=0.8, zorder=1)
        axes.set_xlabel("value difference: centered score of option A's value minus option B's")
        axes.set_ylabel("probability of choosing option A")
        axes.set_ylim(-0.1, 1.1)
        axes.grid(color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        axes.spines[["top", "right"]].set_visible(False)
        figure.legend(loc="outside lower center", ncols=min(len(models), 4), frameon=False)
        return _svg_text(figure)
