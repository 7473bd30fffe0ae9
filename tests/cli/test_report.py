"""``tsbridge-report``'s past-weight plot says which runs it leaves out (issue 12: they used to vanish silently)."""

from __future__ import annotations

import pandas as pd

from tsbridge.cli.report import plot_past_weights


def texts(figure) -> list[str]:
    return [text.get_text() for text in figure.texts]


def test_the_past_weight_plot_names_the_runs_it_leaves_out():
    table = pd.DataFrame({"run": ["0", "1", "2"], "model": ["blend", "concat", "attention"],
                          "overrides": ["", "", ""], "past_weight": [0.6, None, None]})
    figure = plot_past_weights(table)
    assert texts(figure) == ["2 of 3 runs not shown: no blend bridge (attention, concat)"]
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["0: blend"]


def test_no_note_when_every_run_has_a_blend_weight_and_no_plot_without_any():
    table = pd.DataFrame({"run": ["0"], "model": ["blend"], "overrides": [""], "past_weight": [0.4]})
    assert texts(plot_past_weights(table)) == []
    assert plot_past_weights(table.assign(past_weight=None)) is None
