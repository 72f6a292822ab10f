"""The report as text: one self-contained HTML file and a Markdown summary.

HTML: Jinja2 with autoescape on, so every string that comes from a config, an
error or the sweep YAML is shown, never executed; images are inline data URIs,
so the file opens anywhere without a network. Markdown: for a README, a pull
request or a terminal pager, cells escaped the same way.
"""

from __future__ import annotations

import base64

import jinja2

from sslexp.report.tables import markdown_escape, markdown_table

TEMPLATE = "report.html.j2"


def render_html(context: dict) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("sslexp", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE).render(**context)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_markdown(context: dict, figure_links: dict[str, str]) -> str:
    """``context`` is the HTML report's; ``figure_links`` maps a title to a relative PNG path."""
    lines = [
        f"# {markdown_escape(context['title'])}",
        "",
        *[
            line
            for sentence in context["verdict"]
            for line in (f"**{markdown_escape(sentence)}**", "")
        ],
        *[f"- Warning: {markdown_escape(warning)}" for warning in context["warnings"]],
        "",
        f"Sweep `{markdown_escape(context['sweep_name'])}`, "
        f"report written {context['generated_at']}.",
        "",
        "Runs: " + ", ".join(f"{count} {state}" for state, count in context["counts"].items()),
        "",
    ]
    if context["experiment"]:
        lines += [
            f"Experiment `{markdown_escape(context['experiment'])}`: "
            f"{markdown_escape(context['experiment_settings'])}",
            "",
        ]
    lines += [f"> {markdown_escape(note)}" for note in context["notes"]]
    lines += [
        "",
        "## Per label fraction",
        "",
        "Accuracy in percent (mean ± std over folds); difference = ssl - scratch paired by fold, "
        "95% t-interval, paired t-test p-value, and that p-value adjusted by Holm's method "
        "across the fractions. " + markdown_escape(context["low_rule"]),
        "",
        markdown_table(context["headline"]["rows"], context["headline"]["columns"]),
        "",
        markdown_escape(context["pooled_test"]),
        "",
        "## Settings of each arm",
        "",
        markdown_table(context["arms"]["rows"], context["arms"]["columns"])
        if context["arms"]["rows"]
        else "(no finished runs)",
        "",
        "## Label efficiency",
        "",
        "Labels scratch needs to match ssl, read off the scratch curve: "
        + markdown_escape(context["efficiency_curve"])
        + ".",
        "",
        markdown_table(context["efficiency"]["rows"], context["efficiency"]["columns"]),
        "",
    ]
    answer = context["volume_answer"]
    if answer:
        lines += [
            "## How much unlabelled data",
            "",
            f"**{markdown_escape(answer['answer'])}**",
            "",
            markdown_escape(answer["method"]),
            "",
            markdown_table(answer["rows"], answer["columns"]),
            "",
            markdown_escape(answer["doubling"]),
            "",
        ]
    if context["volumes"]:
        lines += [
            "## Gain against unlabelled images",
            "",
            markdown_table(context["volumes"], context["volume_columns"]),
            "",
        ]
    if context["class_gains"]["rows"]:
        lines += [
            "## Per-class gains",
            "",
            "Descriptive only: ssl - scratch per-class test accuracy (points), mean "
            "over paired folds, and how many folds agree on its sign; classes in their "
            "recorded order, untested.",
            "",
            markdown_table(context["class_gains"]["rows"], context["class_gains"]["columns"]),
            "",
        ]
    lines += [
        "## Training budgets",
        "",
        markdown_table(context["budget"]["rows"], context["budget"]["columns"])
        if context["budget"]["rows"]
        else "(no finished runs)",
        "",
    ]
    if context["pretrains"]:
        lines += [
            "## Pretext task",
            "",
            "k-NN probe accuracy per epoch (features of the backbone on a labelled "
            'slice of the pool, never test); "still improving" goes by it.',
            "",
            markdown_table(context["pretrains"], context["pretrain_columns"]),
            "",
        ]
    if context["per_run"]["rows"]:
        lines += [
            "## Per-run results",
            "",
            "Every finished run (unrounded in per_run.csv). Reproducible in distribution: "
            "oneDNN kernels differ by instruction set, moving single folds by up to about "
            "2 points between CPUs.",
            "",
            markdown_table(context["per_run"]["rows"], context["per_run"]["columns"]),
            "",
        ]
    if figure_links:
        lines += ["## Figures", ""]
        lines += [f"![{markdown_escape(title)}]({path})" for title, path in figure_links.items()]
        lines += [""]
    if context["failed"]:
        lines += [
            "## Failed or unfinished runs",
            "",
            markdown_table(context["failed"], context["failed_columns"]),
            "",
        ]
    if context["missing"]:
        lines += [
            "## Missing grid points",
            "",
            markdown_table(context["missing"], context["grid_parameters"]),
            "",
        ]
    return "\n".join(lines)
