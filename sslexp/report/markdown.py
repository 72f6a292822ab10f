"""The report's numbers as Markdown (for a README, a pull request or a terminal pager)."""

from __future__ import annotations

from sslexp.report.tables import markdown_escape, markdown_table


def render_markdown(context: dict, figure_links: dict[str, str]) -> str:
    """``context`` is the HTML report's; ``figure_links`` maps a title to a relative PNG path."""
    lines = [
        f"# {markdown_escape(context['title'])}",
        "",
        f"Sweep `{markdown_escape(context['sweep_name'])}`, "
        f"report written {context['generated_at']}.",
        "",
        "Runs: " + ", ".join(f"{count} {state}" for state, count in context["counts"].items()),
        "",
    ]
    lines += [f"> {markdown_escape(note)}" for note in context["notes"]]
    lines += [
        "",
        "## Per label fraction",
        "",
        "Accuracy in percent (mean ± std over folds); difference = ssl - scratch paired by fold, "
        "95% t-interval, paired t-test p-value.",
        "",
        markdown_table(context["headline"]["rows"], context["headline"]["columns"]),
        "",
        "## Label efficiency",
        "",
        markdown_table(context["efficiency"]["rows"], context["efficiency"]["columns"]),
        "",
    ]
    if context["pretrains"]:
        lines += ["## Pretext task", "",
                  markdown_table(context["pretrains"], ["directory", "epochs", "final_accuracy",
                                                        "best_val_accuracy", "n_pretext_images"]),
                  ""]
    if figure_links:
        lines += ["## Figures", ""]
        lines += [f"![{markdown_escape(title)}]({path})" for title, path in figure_links.items()]
        lines += [""]
    if context["failed"]:
        lines += ["## Failed or unfinished runs", "",
                  markdown_table(context["failed"], context["failed_columns"]), ""]
    if context["missing"]:
        lines += ["## Missing grid points", "",
                  markdown_table(context["missing"], context["grid_parameters"]), ""]
    return "\n".join(lines)
