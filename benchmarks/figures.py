"""The benchmark's figures, in the style of the paper's: CR against speed (ours, numcodecs'
codecs and the released peers in distinct markers, with the Pareto front), and sorting
accuracy / template feature error against CR for the lossy settings. Plotting only: each
function draws rows that a table made (report.py and lossy.py call them; doc_figures.py
regenerates the docs' copies).
"""

from .sorting import FEATURES

# who made each codec: marker, fill, legend label
ORIGIN_STYLE = {
    "ours": dict(marker="o", label="numcodecs-ephys"),
    "peer": dict(marker="s", label="released peer"),
    "general": dict(marker="^", label="numcodecs (general purpose)"),
}
MODE_STYLE = {
    "lossless": dict(marker="*", color="k", label="lossless"),
    "wavpack-hybrid": dict(marker="o", color="tab:blue", label="WavPack hybrid (bps)"),
    "bit-truncation": dict(marker="s", color="tab:red", label="bit truncation (bits)"),
    "lpc-max-error": dict(marker="^", color="tab:green", label="EphysLPC max_error (ADC steps)"),
    "lpc-float-max-error": dict(
        marker="v", color="tab:purple", label="EphysLPC max_error on band-passed float32 (uV; CR of float32)"
    ),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False, "font.size": 9})
    return plt


def origin(row):
    if row.get("peer_of") or str(row.get("case", "")).startswith("peer:"):
        return "peer"
    return "ours" if row["family"] in ("wavpack", "flac") else "general"


def pareto_front(points):
    """The points (speed, cr) that no other point beats on both: sorted by speed."""
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (-p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return sorted(front)


def cr_vs_speed(rows, path, datasets=None):
    """CR against compression and decompression speed (x real time) for each dataset of
    the lossless rows: one color per codec family, one marker per origin, Pareto front."""
    plt = _pyplot()
    datasets = datasets or sorted({r["dataset"] for r in rows})
    families = sorted({r["family"] for r in rows})
    colors = {f: plt.get_cmap("tab20")(i % 20) for i, f in enumerate(families)}
    fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 4.2 * len(datasets)), squeeze=False)
    for i, ds in enumerate(datasets):
        pts = [r for r in rows if r["dataset"] == ds]
        for j, (key, label) in enumerate(
            [("enc_xrt", "compression speed (x real time)"), ("dec_xrt", "decompression speed (x real time)")]
        ):
            ax = axes[i][j]
            for r in pts:
                style = ORIGIN_STYLE[origin(r)]
                ax.scatter(
                    float(r[key]),
                    float(r["cr"]),
                    marker=style["marker"],
                    s=46 if origin(r) == "ours" else 30,
                    color=colors[r["family"]],
                    edgecolors="k" if origin(r) == "ours" else "none",
                    linewidths=0.8,
                    zorder=3,
                )
            front = pareto_front([(float(r[key]), float(r["cr"])) for r in pts])
            ax.step(
                [x for x, _ in front],
                [y for _, y in front],
                where="post",
                color="0.5",
                ls="--",
                lw=1,
                zorder=2,
                label="Pareto front",
            )
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.set(xlabel=label, ylabel="compression ratio", title=ds)
            ax.grid(alpha=0.25)
        handles = [plt.Line2D([], [], ls="", marker="o", color=colors[f], label=f) for f in families]
        handles += [
            plt.Line2D(
                [],
                [],
                ls="",
                marker=s["marker"],
                color="0.4",
                markeredgecolor="k" if o == "ours" else "none",
                label=s["label"],
            )
            for o, s in ORIGIN_STYLE.items()
        ]
        handles.append(plt.Line2D([], [], color="0.5", ls="--", label="Pareto front"))
        axes[i][1].legend(handles=handles, fontsize=7, ncol=2, frameon=False, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _lossy_axes(rows, key, ylabel, path, ylim=None, logy=False):
    plt = _pyplot()
    probes = list(dict.fromkeys(r["probe"] for r in rows))
    fig, axes = plt.subplots(1, len(probes), figsize=(5.2 * len(probes), 4), squeeze=False)
    for ax, probe in zip(axes[0], probes):
        for mode, style in MODE_STYLE.items():
            sel = [r for r in rows if r["probe"] == probe and r["mode"] == mode]
            if not sel:
                continue
            sel.sort(key=lambda r: float(r["cr"]))
            xs, ys = [float(r["cr"]) for r in sel], [float(r[key]) for r in sel]
            ax.plot(xs, ys, marker=style["marker"], color=style["color"], label=style["label"], ms=6, lw=1)
            for r, x, y in zip(sel, xs, ys):
                if r["value"] != "":
                    ax.annotate(
                        f"{r['value']}",
                        (x, y),
                        textcoords="offset points",
                        xytext=(3, 4),
                        fontsize=7,
                        color=style["color"],
                    )
        if key == "accuracy":
            lossless = [float(r["accuracy"]) for r in rows if r["probe"] == probe and r["mode"] == "lossless"]
            ax.axhspan(min(lossless), max(lossless), color="k", alpha=0.12, lw=0)
            ax.axhline(min(lossless), color="k", lw=0.6, ls=":", label="lowest lossless accuracy (sorter seeds)")
            paper = [r for r in rows if r["probe"] == probe and r.get("paper_accuracy") not in ("", None)]
            ax.scatter(
                [float(r["paper_cr"]) for r in paper],
                [float(r["paper_accuracy"]) for r in paper],
                marker="x",
                color="0.4",
                label="paper (Kilosort 2.5)",
                zorder=3,
            )
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("symlog", linthresh=1)
        if ylim:
            ax.set_ylim(*ylim)
        ax.set(xlabel="compression ratio", ylabel=ylabel, title=probe.upper())
        ax.grid(alpha=0.25)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_vs_cr(rows, path):
    _lossy_axes(rows, "accuracy", "sorting accuracy (mean over true units)", path, ylim=(-0.02, 1.05))


def feature_error_vs_cr(rows, path):
    plt = _pyplot()
    probes = list(dict.fromkeys(r["probe"] for r in rows))
    fig, axes = plt.subplots(
        len(probes), len(FEATURES), figsize=(4.2 * len(FEATURES), 3.6 * len(probes)), squeeze=False
    )
    for i, probe in enumerate(probes):
        for j, (feature, label) in enumerate(FEATURES.items()):
            ax = axes[i][j]
            for mode, style in MODE_STYLE.items():
                sel = sorted(
                    [r for r in rows if r["probe"] == probe and r["mode"] == mode], key=lambda r: float(r["cr"])
                )
                if sel:
                    ax.plot(
                        [float(r["cr"]) for r in sel],
                        [float(r[f"{feature}_err_pct"]) for r in sel],
                        marker=style["marker"],
                        color=style["color"],
                        label=style["label"],
                        ms=5,
                        lw=1,
                    )
            ax.set_xscale("log")
            ax.set_yscale("symlog", linthresh=1)
            ax.set(xlabel="compression ratio", ylabel=f"{label} error (%)", title=f"{probe.upper()}: {label}")
            ax.grid(alpha=0.25)
        axes[i][0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
