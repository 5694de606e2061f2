#!/usr/bin/env python3
"""Writes dfn-uids.npy the way DFN's released uid lists are stored: a sorted structured array of
(uint64 high, uint64 low) pairs of DataComp's 128-bit hex uids. Run: python3 make_dfn_npy.py"""
import numpy as np

uids = ["00000000000000000000000000000001", "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "ffffffffffffffff0000000000000000", "8000000000000000ffffffffffffffff",
        "123456789abcdef0fedcba9876543210"]
pairs = sorted((int(u[:16], 16), int(u[16:], 16)) for u in uids)
np.save("dfn-uids.npy", np.array(pairs, dtype="u8,u8"))
print(np.load("dfn-uids.npy"))
