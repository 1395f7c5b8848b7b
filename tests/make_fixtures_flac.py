"""Write the FLAC fixture files under tests/fixtures/flac (run once; commit the result).

- peer/: chunks written by flac-numcodecs 0.1.2 (needs it installed) and the arrays
  they hold, to check that FLACLegacy reads existing stores without the peer;
- fixture/ephys_flac/: numcodecs' backwards-compatibility fixtures that freeze our
  chunk format (every later version must decode them).

Existing files are never overwritten: delete one to regenerate it.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "flac"
sys.path.insert(0, str(HERE))

from test_flac import BACKCOMPAT_CODECS, backcompat_arrays, peer_cases  # noqa: E402


def write_peer():
    import flac_numcodecs

    out = FIXTURES / "peer"
    out.mkdir(parents=True, exist_ok=True)
    for name, (arr, config) in peer_cases().items():
        if (out / f"{name}.flac").exists():
            continue
        np.save(out / f"{name}.npy", arr)
        (out / f"{name}.json").write_text(json.dumps(config, sort_keys=True, indent=4) + "\n")
        (out / f"{name}.flac").write_bytes(flac_numcodecs.Flac(**config).encode(arr))
        print("wrote", out / f"{name}.flac")


def write_backcompat():
    from numcodecs.tests.common import check_backwards_compatibility

    os.chdir(FIXTURES)
    check_backwards_compatibility("ephys_flac", backcompat_arrays(), BACKCOMPAT_CODECS)
    print("backwards-compatibility fixtures in", FIXTURES / "fixture" / "ephys_flac")


if __name__ == "__main__":
    write_peer()
    write_backcompat()
