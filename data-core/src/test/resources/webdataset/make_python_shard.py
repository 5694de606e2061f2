#!/usr/bin/env python3
"""Writes python-shard.tar: a WebDataset shard as Python's tarfile lays it out (PAX format,
mtimes, user names, a directory entry, a nested key), for Kiln's reader to read.
Run from this folder: python3 make_python_shard.py"""
import io
import json
import tarfile

# 1x1 PNG, red.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415478da63f8cfc000000301010018dd8db00000000049454e44ae426082")

samples = [
    ("shard/000000", {"png": PNG, "txt": "a red square".encode(), "json": json.dumps({"uid": "0a", "clip_score": 0.31}).encode()}),
    ("shard/000001", {"png": PNG, "txt": "ünïcödé caption ✓".encode(), "json": json.dumps({"uid": "0b", "clip_score": 0.12}).encode()}),
    ("shard/000002.seg", {"jpg": PNG, "txt": b"two dots in the key"}),
]
with tarfile.open("python-shard.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    info = tarfile.TarInfo("shard")
    info.type = tarfile.DIRTYPE
    info.mtime = 1700000000
    tar.addfile(info)
    for key, members in samples:
        for ext, data in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(data)
            info.mtime = 1700000000
            info.uname = "datacomp"
            tar.addfile(info, io.BytesIO(data))
