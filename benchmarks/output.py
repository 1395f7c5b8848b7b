"""Where the benchmark's tables go: printed to the terminal as each is made, kept for a
markdown file (the docs' generated pages), and rows written as CSV."""

import csv
from pathlib import Path

from tabulate import tabulate


class Tables:
    """The tables and notes of one run, in the order they were made."""

    def __init__(self):
        self.parts = []  # markdown of each table or note

    def show(self, title, rows, columns, floatfmt=".3g"):
        """Print a table of `rows` (dicts): `columns` is [(key, header)]; floatfmt: one format
        for every column, or one per column."""
        body = [[r.get(k, "") for k, _ in columns] for r in rows]
        headers = [h for _, h in columns]
        print(f"\n## {title}\n")
        print(tabulate(body, headers=headers, floatfmt=floatfmt))
        self.parts.append(f"## {title}\n\n" + tabulate(body, headers=headers, floatfmt=floatfmt, tablefmt="github"))

    def note(self, text):
        """A line of text among the tables (a run time, a summary)."""
        print(text)
        self.parts.append(text.strip())

    def write_markdown(self, path, title, preamble):
        """The kept tables under a `title` heading and a `preamble` paragraph (machine, commit)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join([f"# {title}", preamble.strip(), *self.parts]) + "\n")


def write_csv(rows, path):
    """Rows (dicts) as CSV, the columns in the order they first appear."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
