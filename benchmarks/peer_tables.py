"""Our codecs against their peers on the same chunks, the codecs taking turns in every pass:
WavPack and FLAC against the released wavpack-/flac-numcodecs, EphysLPC against the best of
WavPack, FLAC and pcodec (ratio and speed), and the summary of every table's peer rows.
"""

import numpy as np

from numcodecs_ephys import FLAC, WavPack

from . import cases as C
from .measure import interleaved_times
from .tables import SPEED_COLS


def interleaved_columns(codecs, rec, passes):
    """The codecs taking turns on 1 s of all the recording's channels (repeated or cut to
    1 s) in every pass: for each codec, the columns of its row (CR and the speeds of its best
    pass); and {codec: (encode times, decode times)} of every pass."""
    chunk = np.resize(rec.traces, (int(round(rec.fs)), rec.traces.shape[1]))
    mb, secs = chunk.nbytes / 1e6, len(chunk) / rec.fs
    encoded, times = interleaved_times(codecs, chunk, passes)
    columns = {}
    for k in codecs:
        enc_mbs, dec_mbs = mb / min(times[k][0]), mb / min(times[k][1])
        columns[k] = dict(
            chunk_s=secs,
            cr=chunk.nbytes / len(memoryview(encoded[k]).cast("B")),
            enc_mbs=enc_mbs,
            dec_mbs=dec_mbs,
            enc_xrt=enc_mbs / mb * secs,
            dec_xrt=dec_mbs / mb * secs,
            timed_passes=passes,
        )
    return columns, times


def versus_table(run, recs, passes):
    """WavPack and FLAC against the released peers on 1 s chunks of all channels: ours on
    all threads and on one, the peer, taking turns in every pass. Speeds are those of the
    best pass; the ratios over the peer are of the best passes, and the median over passes
    of the ratio within a pass. Ours on one thread shows the gain per core, which a busy
    neighbour on the shared machine does not change, unlike the gain on all threads."""
    rows = []
    for rec in recs:
        for family, level in (("flac", "medium"), ("wavpack", "medium")):
            peer = C.peer(family, level)
            if peer is None:
                continue
            name = f"{family}-{level}"
            codecs = {name: C.ours(family, level, run.threads)[0]}
            if run.threads > 1:
                codecs[f"{name} (1 thread)"] = C.ours(family, level, 1)[0]
            codecs[f"peer:{name}"] = peer[0]
            columns, times = interleaved_columns(codecs, rec, passes)
            for k in codecs:
                row = dict(
                    table="versus",
                    dataset=rec.name,
                    case=k,
                    family=family,
                    level=level,
                    **columns[k],
                    threads=run.threads if k == name else 1,
                    peer_of=name if k.startswith("peer:") else "",
                )
                if not k.startswith("peer:"):
                    for i, op in enumerate(("enc", "dec")):
                        row[f"{op}_x_peer"] = row[f"{op}_mbs"] / columns[f"peer:{name}"][f"{op}_mbs"]
                        row[f"{op}_x_peer_paired"] = float(
                            np.median([p / o for o, p in zip(times[k][i], times[f"peer:{name}"][i])])
                        )
                rows.append(row)
    run.rows.extend(rows)
    if rows:
        run.tables.show(
            f"Against the released peers: 1 s chunks of all channels, best of {passes} interleaved passes "
            f"(ours on {run.threads} threads and on 1, the peers on 1)",
            rows,
            [("dataset", "dataset"), ("case", "codec"), ("threads", "threads"), ("cr", "CR")]
            + SPEED_COLS[:4]
            + [
                ("enc_x_peer", "enc x peer"),
                ("dec_x_peer", "dec x peer"),
                ("enc_x_peer_paired", "enc x peer (median pass)"),
                ("dec_x_peer_paired", "dec x peer (median pass)"),
            ],
        )


def chunk_cr(codec, x):
    """Raw bytes over coded bytes of chunk x."""
    return x.nbytes / len(memoryview(codec.encode(x)).cast("B"))


def peer_crs(x, threads):
    """The CR on chunk x of every level of the peers that EphysLPC's ratio is measured against
    (cases.BEST_OF_LEVELS): {"wavpack-1": ..., "flac-0": ..., "pcodec-8-channel-major": ...}."""
    peers = {f"wavpack-{v}": chunk_cr(WavPack(level=v, num_threads=threads), x) for v in C.BEST_OF_LEVELS["wavpack"]}
    peers.update({f"flac-{v}": chunk_cr(FLAC(level=v, num_threads=threads), x) for v in C.BEST_OF_LEVELS["flac"]})
    for v in C.BEST_OF_LEVELS["pcodec"]:
        made = C.pcodec(v, "F")
        if made:
            peers[f"pcodec-{v}-channel-major"] = chunk_cr(made[0], x)
    return peers


def lpc_ratio_table(run, recs):
    """EphysLPC's CR over the best of WavPack (levels 1-4), FLAC (0-8) and pcodec (8 and 12,
    channel-major) on the same chunk: each recording as one chunk (the real files are
    shorter than 1 s), Open Ephys behind the LSB filter. Untimed: CR only."""
    rows, ratios = [], []
    for rec in recs:
        lsb = tuple(run.lsb(rec))
        traces = rec.traces
        for f in lsb:
            traces = np.asarray(f.encode(traces))
        x = np.ascontiguousarray(traces)
        peers = peer_crs(x, run.threads)
        best = max(peers, key=peers.get)
        ours = {lv: chunk_cr(C.lpc(lv, run.threads)[0], x) for lv in C.LEVELS}
        row = dict(
            table="lpc ratio",
            dataset=rec.name,
            case="lpc-medium",
            family="lpc",
            level="medium",
            chunk_s=rec.duration,
            lsb=bool(lsb),
            cr=ours["medium"],
            cr_low=ours["low"],
            cr_high=ours["high"],
            best_peer=best,
            best_peer_cr=peers[best],
            x_best=ours["medium"] / peers[best],
            x_best_high=ours["high"] / peers[best],
            threads=run.threads,
            peer_of="",
        )
        rows.append(row)
        if rec.source == "real":
            ratios.append((row["x_best"], row["x_best_high"]))
    run.rows.extend(rows)
    run.tables.show(
        "EphysLPC against the best of WavPack 1-4, FLAC 0-8 and pcodec 8/12 (channel-major), one chunk per recording",
        rows,
        [
            ("dataset", "dataset"),
            ("lsb", "LSB"),
            ("best_peer", "best peer"),
            ("best_peer_cr", "its CR"),
            ("cr_low", "lpc level 1"),
            ("cr", "lpc level 2"),
            ("cr_high", "lpc level 3"),
            ("x_best", "level 2 / best"),
            ("x_best_high", "level 3 / best"),
        ],
        floatfmt=[".3g"] * 7 + [".4f"] * 2,  # ratios close to 1: 3 digits would print 1.0023 as 1
    )
    if ratios:
        gm = np.exp(np.mean(np.log(ratios), axis=0))
        run.tables.note(
            f"\nGeometric mean over the real recordings of level 2 / best: {gm[0]:.4f}; level 3: {gm[1]:.4f}"
        )


def lpc_speed_table(run, recs, passes):
    """EphysLPC against FLAC, WavPack and pcodec on 1 s chunks of all channels (a recording
    repeated or cut to 1 s): all in one run, taking turns in every pass; each on 1 thread
    and ours and the audio codecs also on all threads. Speeds of the best pass."""
    rows = []
    for rec in recs:
        codecs = {
            "lpc-2 (1 thread)": C.lpc("medium", 1)[0],
            "flac-5 (1 thread)": C.ours("flac", "medium", 1)[0],
            "wavpack-2 (1 thread)": C.ours("wavpack", "medium", 1)[0],
        }
        for order, label in (("F", "channel-major"), ("C", "time-major")):
            made = C.pcodec(8, order)
            if made:
                codecs[f"pcodec-8 {label}"] = made[0]
        if run.threads > 1:
            codecs.update(
                {
                    f"lpc-2 ({run.threads} threads)": C.lpc("medium", run.threads)[0],
                    f"flac-5 ({run.threads} threads)": C.ours("flac", "medium", run.threads)[0],
                    f"wavpack-2 ({run.threads} threads)": C.ours("wavpack", "medium", run.threads)[0],
                }
            )
        columns, _ = interleaved_columns(codecs, rec, passes)
        best = {k: (c["enc_mbs"], c["dec_mbs"]) for k, c in columns.items()}
        for k in codecs:
            row = dict(
                table="lpc speed",
                dataset=rec.name,
                case=k,
                family=k.split("-")[0],
                **columns[k],
                threads=run.threads if "threads)" in k else 1,
                peer_of="",
                enc_x_flac=best[k][0] / best["flac-5 (1 thread)"][0],
                dec_x_flac=best[k][1] / best["flac-5 (1 thread)"][1],
            )
            if "pcodec-8 channel-major" in best:
                row["enc_x_pcodec"] = best[k][0] / best["pcodec-8 channel-major"][0]
                row["dec_x_pcodec"] = best[k][1] / best["pcodec-8 channel-major"][1]
            one_thread = k.split(" (")[0] + " (1 thread)"
            if row["threads"] > 1 and one_thread in best:  # the scaling over the same codec's 1 thread
                row["enc_x_1thr"] = best[k][0] / best[one_thread][0]
                row["dec_x_1thr"] = best[k][1] / best[one_thread][1]
            rows.append(row)
    run.rows.extend(rows)
    if rows:
        run.tables.show(
            f"EphysLPC against FLAC, WavPack and pcodec: 1 s chunks of all channels, best of {passes} "
            "interleaved passes",
            rows,
            [("dataset", "dataset"), ("case", "codec"), ("cr", "CR")]
            + SPEED_COLS[:2]
            + [
                ("enc_x_flac", "enc x FLAC-5 1 thr"),
                ("dec_x_flac", "dec x FLAC-5 1 thr"),
                ("enc_x_pcodec", "enc x pcodec-8"),
                ("dec_x_pcodec", "dec x pcodec-8"),
                ("enc_x_1thr", "enc x 1 thread"),
                ("dec_x_1thr", "dec x 1 thread"),
            ],
        )


def peer_table(run):
    """Our CR and speed over the released peer's, for each case both ran on the same data."""
    paired = [r for r in run.rows if "peer_of" in r]  # the tables that run peers beside our cases
    index = {(r["dataset"], r["case"], r["table"], r["chunk_s"]): r for r in paired}
    out = []
    for r in paired:
        if r["peer_of"]:
            mine = index.get((r["dataset"], r["peer_of"], r["table"], r["chunk_s"]))
            if mine:
                out.append(
                    dict(
                        table=r["table"],
                        dataset=r["dataset"],
                        ours=mine["case"],
                        peer=r["case"],
                        cr_ratio=mine["cr"] / r["cr"],
                        enc_ratio=mine["enc_mbs"] / r["enc_mbs"],
                        dec_ratio=mine["dec_mbs"] / r["dec_mbs"],
                    )
                )
    if out:
        run.tables.show(
            "Against the released peers, same run, same chunks (ours / peer)",
            out,
            [
                ("table", "table"),
                ("dataset", "dataset"),
                ("ours", "ours"),
                ("peer", "peer"),
                ("cr_ratio", "CR ratio"),
                ("enc_ratio", "encode speed ratio"),
                ("dec_ratio", "decode speed ratio"),
            ],
            floatfmt=".3f",
        )
