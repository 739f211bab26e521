#!/usr/bin/env python3
"""tests/e2e/tpm/eventlog_replay.py LOG [PCR...] - the SHA-256 digests a TCG2
event log (crypto-agile format, TCG PC Client Platform Firmware Profile
s10.2: TCG_PCR_EVENT header, then TCG_PCR_EVENT2 entries) extends into the
given PCRs (default 0 4 8), one "PCR HEX" line per event, in order.
EV_NO_ACTION (0x3) events extend nothing (PFP s10.4.1). The e2e-tpm test
replays them into another TPM, the way an attacker forges golden PCRs."""
import struct
import sys

EV_NO_ACTION = 3
SHA256 = 0x000B


def main():
    data = open(sys.argv[1], "rb").read()
    want = {int(p) for p in sys.argv[2:]} or {0, 4, 8}
    # TCG_PCR_EVENT: pcrIndex, eventType, digest[20], eventSize, event
    # (the Spec ID event: signature[16], platformClass, versions, uintnSize,
    # numberOfAlgorithms, {algId, digestSize}...)
    esz = struct.unpack_from("<I", data, 28)[0]
    spec = data[32:32 + esz]
    nalg = struct.unpack_from("<I", spec, 24)[0]
    sizes = {}
    for i in range(nalg):
        alg, sz = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = sz
    off = 32 + esz
    while off + 12 <= len(data):
        pcr, etype, cnt = struct.unpack_from("<III", data, off)
        off += 12
        d256 = None
        for _ in range(cnt):
            alg = struct.unpack_from("<H", data, off)[0]
            off += 2
            if alg == SHA256:
                d256 = data[off:off + 32]
            off += sizes[alg]
        elen = struct.unpack_from("<I", data, off)[0]
        off += 4 + elen
        if etype != EV_NO_ACTION and pcr in want and d256 is not None:
            print(pcr, d256.hex())


main()
