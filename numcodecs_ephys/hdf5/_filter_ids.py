"""The HDF5 filter ids of the package's filters, stated here and nowhere else.

The build (csrc/build_hdf5_plugins.py reads this file without importing the package) compiles
each plugin library with its id (``-DEPHYS_H5_FILTER_ID``), and :mod:`numcodecs_ephys.hdf5`
takes its constants and its id -> filter table from here. No imports: the build runs before
the package exists.

The ids lie in HDF5's range 32768-65535, which the HDF Group leaves untracked ("for
non-distributed use or testing"); docs/hdf5-filter-registration.md is the request for
registered ids. When registered ids are assigned they go into ``FILTER_IDS`` (new files carry
them) and the ids of today move into ``FORMER_IDS``: the build then also makes one library
per former id (``libh5ephys_<name>_<id>.so``, same code, that id), so files written with it
still read in h5py, h5dump and every other HDF5 program, and :func:`codec_for_filter` and
kerchunk references map it to the same codec.
"""

FILTER_IDS = {"wavpack": 58736, "flac": 58737, "lpc": 58738}
"""filter name -> the HDF5 filter id it writes (the plugin library ``libh5ephys_<name>.so``)."""

FORMER_IDS: dict = {}
"""former HDF5 filter id -> filter name: ids that files written earlier carry; read, never written."""


def libraries():
    """HDF5 filter id -> (filter name, library file name): one plugin library per id."""
    table = {fid: (name, f"libh5ephys_{name}.so") for name, fid in FILTER_IDS.items()}
    for fid, name in FORMER_IDS.items():
        if name not in FILTER_IDS or fid in table:
            raise ValueError(f"FORMER_IDS: {fid} -> {name!r} names no filter, or an id in use")
        table[fid] = (name, f"libh5ephys_{name}_{fid}.so")
    return table
