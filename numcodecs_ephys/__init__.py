"""C-backed numcodecs codecs for large-scale electrophysiology.

Importing the package registers every codec with numcodecs, so that zarr, SpikeInterface
and NeuroConv find them by id.
"""

from numcodecs.registry import codec_registry, register_codec

from ._blocks import get_num_threads, set_num_threads
from .bittruncation import BitTruncation
from .delta2d import Delta2D
from .flac import FLAC, FLACLegacy, FLACNumcodecsFormat
from .lpc import EphysLPC
from .lsb import LSB, estimate_lsb
from .wavpack import WavPack, WavPackLegacy, WavPackNumcodecsFormat

__version__ = "0.2.0.dev0"
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

from .files import compress_file, decompress_file, open_recording  # noqa: E402  (whole recordings; zarr on use)

__all__ += ["compress_file", "decompress_file", "open_recording"]
