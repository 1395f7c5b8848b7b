"""Benchmark suite of numcodecs-ephys: datasets, codec cases, measurement, report."""
