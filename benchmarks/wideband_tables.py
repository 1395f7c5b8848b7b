"""EphysLPC on wideband recordings (wideband.py): each of its levels against each level of
WavPack (1-4), FLAC (0-8) and pcodec (8, 12; channel-major), one chunk per recording, all
in the same run. Untimed: CR only."""

from numcodecs_ephys import EphysLPC

from .peer_tables import chunk_cr, peer_crs

LPC_LEVELS = (1, 2, 3)


def wideband_ratio_table(run, recs):
    """One row per recording: the CR of every codec and level, the best peer, and each of our
    levels over it."""
    rows = []
    for rec in recs:
        x = rec.traces
        peers = peer_crs(x, run.threads)
        best = max(peers, key=peers.get)
        row = dict(
            table="wideband ratio",
            dataset=rec.name,
            case="lpc levels vs peers",
            channels=x.shape[1],
            fs=rec.fs,
            std=float(x.std()),
            chunk_s=rec.duration,
            peer_of="",
            **{f"lpc-{lv}": chunk_cr(EphysLPC(level=lv, num_threads=run.threads), x) for lv in LPC_LEVELS},
            **peers,
            best_peer=best,
            best_peer_cr=peers[best],
        )
        for lv in LPC_LEVELS:
            row[f"lpc-{lv}_x_best"] = row[f"lpc-{lv}"] / peers[best]
        rows.append(row)
    run.rows.extend(rows)
    if not rows:
        return
    peer_columns = [k for k in rows[0] if k.split("-")[0] in ("wavpack", "flac", "pcodec")]
    columns = (
        [("dataset", "dataset"), ("channels", "ch"), ("std", "std")]
        + [(f"lpc-{lv}", f"LPC {lv}") for lv in LPC_LEVELS]
        + [
            (k, k.replace("wavpack-", "WV ").replace("flac-", "FLAC ").replace("pcodec-", "pco ").split("-channel")[0])
            for k in peer_columns
        ]
        + [("best_peer", "best peer")]
        + [(f"lpc-{lv}_x_best", f"LPC {lv} / best") for lv in LPC_LEVELS]
    )
    run.tables.show(
        "Wideband recordings: EphysLPC levels 1-3 against WavPack 1-4, FLAC 0-8 and pcodec 8/12 (channel-major), "
        "one chunk per recording",
        rows,
        columns,
        floatfmt=["", "", ".0f"] + [".4f"] * (len(LPC_LEVELS) + len(peer_columns)) + [""] + [".4f"] * len(LPC_LEVELS),
    )
    worst = {lv: min(r[f"lpc-{lv}_x_best"] for r in rows) for lv in LPC_LEVELS}
    run.tables.note(
        "\nLowest ratio to the best peer: " + ", ".join(f"level {lv} {worst[lv]:.4f}" for lv in LPC_LEVELS) + "."
    )
