"""C-backed numcodecs codecs for large-scale electrophysiology.

Importing the package registers every codec with numcodecs, so that zarr, SpikeInterface
and NeuroConv find them by id.
"""

from numcodecs.registry import codec_registry, register_codec

from ._threads import get_num_threads, set_num_threads
from ._version import __version__ as __version__  # (the alias re-exports it)
from .bittruncation import BitTruncation
from .delta2d import Delta2D
from .flac import FLAC, FLACLegacy, FLACNumcodecsFormat
from .lpc import EphysLPC
from .lsb import LSB, estimate_lsb
from .wavpack import WavPack, WavPackLegacy, WavPackNumcodecsFormat

__all__ = [
    "WavPack",
    "WavPackNumcodecsFormat",
    "FLAC",
    "FLACNumcodecsFormat",
    "Delta2D",
    "BitTruncation",
    "LSB",
    "estimate_lsb",
    "EphysLPC",
    "set_num_threads",
    "get_num_threads",
    "WavPackLegacy",
    "FLACLegacy",
]  # the names of 0.1.0

for _codec in (WavPack, FLAC, Delta2D, BitTruncation, LSB, EphysLPC):
    register_codec(_codec)

# Ids of the peer packages: read their chunks without them, but if the peer itself
# was imported first, leave its registration in place (both read the same format).
for _peer in (WavPackNumcodecsFormat, FLACNumcodecsFormat):
    if _peer.codec_id not in codec_registry:
        register_codec(_peer)

from .recordings.stores import compress_file, decompress_file, open_recording  # noqa: E402  (whole recordings; zarr on use)

__all__ += ["compress_file", "decompress_file", "open_recording"]
