"""One self-contained HTML file: Jinja2 with autoescape on, so every string that
comes from a config, an error or the sweep YAML is shown, never executed; images
are inline data URIs, so the file opens anywhere without a network."""

from __future__ import annotations

import base64

import jinja2

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
