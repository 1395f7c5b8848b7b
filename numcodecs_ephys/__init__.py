"""C-backed numcodecs codecs for large-scale electrophysiology.

Importing the package registers every codec with numcodecs, so that zarr, SpikeInterface
and NeuroConv find them by id.
"""
from numcodecs.registry import codec_registry, register_codec

from ._blocks import get_num_threads, set_num_threads
from .bittruncation import BitTruncation
from .delta2d import Delta2D
from .flac import FLAC, FLACLegacy
from .lpc import EphysLPC
from .lsb import LSB, estimate_lsb
from .wavpack import WavPack, WavPackLegacy

__version__ = "0.2.0.dev0"
__all__ = ["WavPack", "WavPackLegacy", "FLAC", "FLACLegacy", "Delta2D", "BitTruncation", "LSB", "estimate_lsb",
           "EphysLPC", "set_num_threads", "get_num_threads"]

for _codec in (WavPack, FLAC, Delta2D, BitTruncation, LSB, EphysLPC):
    register_codec(_codec)

# Ids of the peer packages: read their chunks without them, but if the peer itself
# was imported first, leave its registration in place (both read the same format).
for _codec in (WavPackLegacy, FLACLegacy):
    if _codec.codec_id not in codec_registry:
        register_codec(_codec)

from .files import compress_file, decompress_file, open_recording  # noqa: E402  (whole recordings; zarr on use)

__all__ += ["compress_file", "decompress_file", "open_recording"]
