"""A local stand-in for the paper's S3 bucket: a bucket of the same name on a local S3
server (moto), readable anonymously, holding sessions in its layout (SpikeInterface binary
folders: binary.json, traces_cached_seg0.raw, probe.json)."""

import json

from conftest import require


def public_bucket(endpoint_url):
    """A boto3 client of the server, with the paper's bucket created and anonymously readable."""
    boto3 = require("boto3")
    from benchmarks.s3 import BUCKET

    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                    }
                ],
            }
        ),
    )
    return s3


def put_session(s3, dataset, session, traces, probe_json=b"{}", fs=30000.0):
    """One session: int16 (samples, channels) traces, time-major, with its probe.json."""
    from benchmarks.s3 import BUCKET

    binary = {
        "class": "spikeinterface.core.binaryfolder.BinaryFolderRecording",
        "kwargs": {
            "file_paths": ["traces_cached_seg0.raw"],
            "sampling_frequency": fs,
            "num_channels": traces.shape[1],
            "dtype": "<i2",
            "time_axis": 0,
            "file_offset": 0,
        },
    }
    prefix = f"{dataset}/{session}"
    for key, body in (
        ("binary.json", json.dumps(binary).encode()),
        ("traces_cached_seg0.raw", traces.tobytes()),
        ("probe.json", probe_json),
    ):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=body, ACL="public-read")
