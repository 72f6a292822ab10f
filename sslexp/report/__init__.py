"""The ssl vs scratch comparison report: collect runs, compute statistics, draw,
and write one self-contained HTML file (plus CSV and Markdown) or a W&B Report."""
