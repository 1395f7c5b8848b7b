"""The `numcodecs-ephys` command (also `python -m numcodecs_ephys`): compress, decompress,
info and verify whole recordings and NWB files. A thin layer over
numcodecs_ephys.recordings.stores (zarr stores), .nwb (NWB files) and .batch (many inputs)."""

import argparse
import errno
import json
import signal
import sys

from .._version import __version__
from . import batch, nwb, stores

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _time(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _gains(text):
    """'0.195' or '0.195,0.2,...' -> a list of floats (checked against the channels later)."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"gains are numbers like 0.195 or 0.195,0.2,..., got {text!r}") from None


def _channels(text):
    """'0,5,7' or '0:384' or '10:20,30' -> a list of channel indices."""
    out = []
    try:
        for part in text.split(","):
            if ":" in part:
                a, b = part.split(":")
                out.extend(range(int(a), int(b)))
            else:
                out.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"channels are indices like 0,3,7 or ranges like 0:384, got {text!r}"
        ) from None
    if not out:
        raise argparse.ArgumentTypeError(f"no channels in {text!r}")
    return out


def build_parser():
    p = argparse.ArgumentParser(
        prog="numcodecs-ephys", description="Compress electrophysiology recordings into zarr stores and back."
    )
    p.add_argument("--version", action="version", version=f"numcodecs-ephys {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "compress",
        help="compress recording files into zarr stores",
        description="INPUT: a SpikeGLX .bin (with its .meta), an Open Ephys .dat (with "
        "structure.oebin), an mtscomp .cbin (with its .ch), a raw file with -n/-s/-d, or an NWB "
        "file (.nwb: its ElectricalSeries are rewritten with our HDF5 filter). Local paths or fsspec "
        "URLs (s3://, gs://, file://), glob patterns included; with several, each one that fails is "
        "reported and the others go on.",
    )
    c.add_argument("inputs", nargs="*", metavar="INPUT")
    c.add_argument("--inputs-from", metavar="FILE", help="a manifest: one INPUT (path or URL) per line, # for comments")
    c.add_argument(
        "-o",
        "--output",
        help="output store or file, path or URL (one INPUT only; default: INPUT with suffix .zarr, "
        "session.nwb -> session.ephys.nwb)",
    )
    c.add_argument("--output-dir", metavar="DIR", help="folder or URL prefix for the outputs of every INPUT")
    c.add_argument(
        "--codec",
        choices=list(stores.CODECS),
        help=f"codec (default {stores.DEFAULT_CODEC}; with --bps, whose hybrid mode it is, wavpack)",
    )
    c.add_argument("--level", type=int, help="codec level (default: the codec's own)")
    c.add_argument("--bps", type=float, help="LOSSY: WavPack hybrid mode at this many bits per sample")
    c.add_argument(
        "--max-error",
        type=float,
        metavar="BOUND",
        help="LOSSY, with --codec lpc: every sample within BOUND of the original, in units of the samples "
        "(a whole number for integer samples; float samples take any bound, e.g. 0.25 for float uV)",
    )
    c.add_argument(
        "--chunk-duration",
        type=float,
        default=stores.DEFAULT_CHUNK_DURATION,
        metavar="SECONDS",
        help=f"seconds of all channels per chunk (default {stores.DEFAULT_CHUNK_DURATION:g})",
    )
    c.add_argument(
        "--zarr-format",
        type=int,
        choices=(2, 3),
        default=stores.DEFAULT_ZARR_FORMAT,
        help=f"zarr format of the store (default {stores.DEFAULT_ZARR_FORMAT}, which SpikeInterface "
        "reads in both zarr stacks)",
    )
    c.add_argument("--threads", type=int, help="coding threads (default: all cores; per task with --scheduler: 1)")
    c.add_argument(
        "--overwrite", action="store_true", help="replace existing stores (an object store: removed before writing)"
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same command: check the chunks it wrote, write the missing ones",
    )
    c.add_argument(
        "--no-check",
        action="store_true",
        help="do not decode and compare each chunk before writing it, list the chunks written, nor "
        "compare the input with the SHA1 its own metadata records (SpikeGLX fileSHA1, mtscomp)",
    )
    c.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler that codes the chunks")
    c.add_argument("-n", "--n-channels", type=int, help="raw input: number of channels")
    c.add_argument("-s", "--sample-rate", type=float, help="raw input: sample rate in Hz")
    c.add_argument("-d", "--dtype", help="raw input: sample type (int16, int32, float32...)")
    c.add_argument(
        "--gain-to-uv",
        type=_gains,
        metavar="GAIN[,GAIN...]",
        help="raw input: microvolts per unit, one for all channels or one per channel (SpikeInterface's gains)",
    )
    c.add_argument("--stream", help="Open Ephys: the stream's folder name, when the .dat's location does not say")
    c.add_argument("--zarr", action="store_true", help="NWB input: write NWB-Zarr (hdmf-zarr) instead of NWB HDF5")
    c.add_argument(
        "--series",
        action="append",
        metavar="NAME",
        help="NWB input: rewrite the TimeSeries of this name instead of every ElectricalSeries (repeatable)",
    )
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")

    d = sub.add_parser("decompress", help="write a store back as the original file (and its .meta / .oebin)")
    d.add_argument("store")
    d.add_argument("-o", "--output", help="output file (default: the original file name beside the store)")
    d.add_argument("--start", type=_time, metavar="SECONDS", help="first second to write (default 0)")
    d.add_argument("--end", type=_time, metavar="SECONDS", help="end in seconds (default: the end)")
    d.add_argument(
        "--channels",
        type=_channels,
        help="channel indices to write, e.g. 0:384 or 0,5,7 (a subset is written without the metadata files)",
    )
    d.add_argument("--overwrite", action="store_true", help="replace existing files")
    d.add_argument("-q", "--quiet", action="store_true")

    i = sub.add_parser("info", help="what a store holds")
    i.add_argument("store")
    i.add_argument("--json", action="store_true", help="as JSON")

    v = sub.add_parser(
        "verify",
        help="decode a store (or NWB file) and check every chunk against its manifest and hash (and the original)",
    )
    v.add_argument("store")
    v.add_argument("original", nargs="?", help="the original file to compare with, sample by sample")
    v.add_argument("-q", "--quiet", action="store_true")
    return p


def _compress(args):
    listed = batch.read_manifest(args.inputs_from) if args.inputs_from else []
    inputs = batch.expand(list(args.inputs) + listed)
    if not inputs:
        raise ValueError("no INPUT: name recordings, glob patterns, or --inputs-from FILE")
    if args.output and (len(inputs) > 1 or args.output_dir):
        raise ValueError(
            "-o/--output takes one INPUT; with several, use --output-dir or each store goes beside its input"
        )

    def output_for(path):
        if args.output or not args.output_dir:
            return args.output
        suffix = nwb.output_suffix(args.zarr) if nwb.is_nwb(path) else ".zarr"
        return batch.output_in(args.output_dir, path, suffix)

    # the options an NWB file and a recording file take alike
    coding = {
        "codec": args.codec or ("wavpack" if args.bps is not None else stores.DEFAULT_CODEC),
        "level": args.level,
        "bps": args.bps,
        "chunk_duration": args.chunk_duration,
        "overwrite": args.overwrite,
        "check": not args.no_check,
    }

    def one(path):
        if nwb.is_nwb(path) and args.max_error:
            raise ValueError(f"{path}: --max-error takes recording files to zarr stores, not NWB files")
        if nwb.is_nwb(path):
            out, reports = nwb.compress_nwb(path, output_for(path), zarr=args.zarr, series=args.series, **coding)
            if not args.quiet:
                print(f"{path} -> {out}\n{nwb.format_report(reports)}")
            return out, sum(r.bytes_before for r in reports), sum(r.bytes_after for r in reports)
        out = stores.compress_file(
            path,
            output_for(path),
            zarr_format=args.zarr_format,
            num_threads=args.threads,
            progress=not args.quiet,
            scheduler=args.scheduler,
            resume=args.resume,
            n_channels=args.n_channels,
            sample_rate=args.sample_rate,
            dtype=args.dtype,
            stream=args.stream,
            gain_to_uv=args.gain_to_uv,
            max_error=args.max_error,
            **coding,
        )
        info = stores.store_info(out)
        if not args.quiet:
            print(
                f"{path} -> {out}: {info['compression_ratio']:.3f}x "
                f"({info['source_size']} -> {info['stored_bytes']} bytes, "
                f"{'LOSSY' if not info['lossless'] else 'lossless' if args.no_check else 'lossless, checked'})"
            )
        return out, info["source_size"], info["stored_bytes"]

    if len(inputs) == 1:  # its error is the command's
        one(inputs[0])
        return 0
    results = batch.run(inputs, one)
    for r in results:
        if r.status != "ok":
            print(f"numcodecs-ephys: error: {r.input}: {r.message}", file=sys.stderr)
    if not args.quiet:
        print(batch.summary(results))
    return EXIT_ERROR if any(r.status != "ok" for r in results) else 0


def _decompress(args):
    out = stores.decompress_file(
        args.store,
        args.output,
        start=args.start,
        end=args.end,
        channels=args.channels,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(f"{args.store} -> {out}")


def _info(args):
    info = stores.store_info(args.store)
    print(json.dumps(info, indent=1) if args.json else stores.format_info(info))


def _verify(args):
    if nwb.is_nwb(args.store):
        compared = nwb.verify_nwb(args.store, args.original)
        if not args.quiet:
            against = f"equal to {args.original}" if args.original else "decode"
            print(f"{args.store}: OK, its {len(compared)} re-encoded datasets {against}")
        return
    info = stores.verify_store(args.store, args.original, progress=not args.quiet)
    if args.quiet:
        return
    if "error" in info:  # lossy, against the original
        e = info["error"]
        uv = f" = {e['max_uv']:.4g} uV" if "max_uv" in e else ""
        rms_uv = f" = {e['rms_uv']:.4g} uV" if "rms_uv" in e else ""
        print(
            f"{args.store}: decodes (LOSSY); against {args.original}: max error {e['max']:g}{uv} "
            f"(sample {e['sample']}, channel {e['channel']}), RMS error {e['rms']:.4g}{rms_uv}"
        )
        return
    what = "matches the original's checksum" if info["lossless"] else "decodes (lossy: no checksum to compare)"
    print(f"{args.store}: OK, {what}{' and ' + args.original if args.original else ''}")


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # kill (TERM) cleans up like Ctrl-C
    run = {"compress": _compress, "decompress": _decompress, "info": _info, "verify": _verify}[args.command]
    resumable = " (compress --resume continues the run)" if args.command == "compress" else ""
    try:
        return run(args) or 0
    except KeyboardInterrupt:
        print(
            f"numcodecs-ephys: interrupted; nothing readable was written under the output name{resumable}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except OSError as e:
        if e.errno == errno.ENOSPC:
            msg = f"the disk is full; nothing readable was written under the output name{resumable}"
        else:
            msg = str(e)
        print(f"numcodecs-ephys: error: {msg}", file=sys.stderr)
        return EXIT_ERROR
    except (ValueError, ImportError) as e:
        print(f"numcodecs-ephys: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
