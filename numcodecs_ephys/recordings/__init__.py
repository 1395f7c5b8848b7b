"""Whole recordings: files on disk (``sources``) to zarr stores and back (``stores``), and the
``numcodecs-ephys`` command over both (``cli``). numcodecs_ephys exports ``compress_file``,
``decompress_file`` and ``open_recording``; zarr, dask and mtscomp are imported on use."""
