#!/usr/bin/env python3
"""Generates the hostile (and a few accepted) artifacts the unpacker is tested against.

Independent of Locara's own packer: archives are written by Python's `tarfile` module, or by the
hand-built `ustar_header` below where `tarfile` refuses, and compressed by the `zstd` CLI. Every
archive starts with a valid `locara.toml`, so the refusal happens after something was written and
the test can check that nothing is left behind. Run from anywhere: `python3 generate.py`.
Outputs are deterministic (fixed mtimes, names and contents).
"""

import io
import os
import subprocess
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = b'name = "acme/hostile"\nversion = "1.0.0"\n'
MTIME = 1_700_000_000


def info(name, type_=tarfile.REGTYPE, size=0, mode=0o644, linkname=""):
    member = tarfile.TarInfo(name)
    member.type = type_
    member.size = size
    member.mode = mode
    member.mtime = MTIME
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.linkname = linkname
    return member


def tar(members, fmt=tarfile.USTAR_FORMAT, pax_headers=None, manifest=True):
    """A tar stream: `locara.toml` first (unless `manifest` is false), then `members`."""
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out,
        mode="w",
        format=fmt,
        pax_headers=pax_headers,
        encoding="utf-8",
        errors="surrogateescape",
    ) as archive:
        if manifest:
            archive.addfile(info("locara.toml", size=len(MANIFEST)), io.BytesIO(MANIFEST))
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def ustar_header(name, type_flag=b"0", size=0, mode=0o644, magic=b"ustar\x0000", linkname=b""):
    """One hand-built 512-byte header, for what `tarfile` will not write."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"%07o\x00" % mode
    block[108:116] = b"%07o\x00" % 0
    block[116:124] = b"%07o\x00" % 0
    block[124:136] = b"%011o\x00" % size
    block[136:148] = b"%011o\x00" % MTIME
    block[156:157] = type_flag
    block[157 : 157 + len(linkname)] = linkname
    block[257:265] = magic
    block[148:156] = b"        "
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def padded(data):
    return data + b"\x00" * (-len(data) % 512)


def manifest_entry():
    return ustar_header(b"locara.toml", size=len(MANIFEST)) + padded(MANIFEST)


END = b"\x00" * 1024


def zstd(data, *args):
    return subprocess.run(
        ["zstd", "-q", "-c", "-19", *args], input=data, stdout=subprocess.PIPE, check=True
    ).stdout


def write(name, compressed):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(compressed)


def main():
    text = b"hello\n"
    cases = {
        "absolute-path": tar([(info("/tmp/locara-evil", size=5), b"evil\n")]),
        "dotdot": tar([(info("../evil", size=5), b"evil\n")]),
        "dotdot-nested": tar([(info("a", tarfile.DIRTYPE, mode=0o755), None),
                              (info("a/../../evil", size=5), b"evil\n")]),
        "symlink": tar([(info("passwd", tarfile.SYMTYPE, linkname="/etc/passwd"), None)]),
        "hardlink": tar([(info("copy", tarfile.LNKTYPE, linkname="locara.toml"), None)]),
        "char-device": tar([(info("null", tarfile.CHRTYPE), None)]),
        "block-device": tar([(info("sda", tarfile.BLKTYPE), None)]),
        "fifo": tar([(info("pipe", tarfile.FIFOTYPE), None)]),
        "contiguous-file": tar([(info("contiguous", tarfile.CONTTYPE, size=6), text)]),
        "duplicate": tar([(info("a.txt", size=6), text), (info("a.txt", size=6), text)]),
        "duplicate-manifest": tar([(info("locara.toml", size=6), text)]),
        "file-dir-collision": tar([(info("a", tarfile.DIRTYPE, mode=0o755), None),
                                   (info("a", size=6), text)]),
        "non-utf8-name": tar([(info("caf\udce9.txt", size=6), text)]),
        "missing-parent": tar([(info("dir/file.txt", size=6), text)]),
        "parent-is-file": tar([(info("a", size=6), text), (info("a/b", size=6), text)]),
        "dot-component": tar([(info("./a.txt", size=6), text)]),
        "backslash": tar([(info("a\\b.txt", size=6), text)]),
        "missing-manifest": tar([(info("a.txt", size=6), text)], manifest=False),
        # Limits: the tests pass small limits, so these stay tiny.
        "too-many-files": tar([(info(f"f{i}.txt", size=6), text) for i in range(6)]),
        "file-too-large": tar([(info("big.bin", size=4096), b"\x00" * 4096)]),
        "total-too-large": tar([(info(f"part{i}.bin", size=600), b"\x01" * 600) for i in range(4)]),
        "path-too-long": tar([(info("d" * 40 + "/", tarfile.DIRTYPE, mode=0o755), None),
                              (info("d" * 40 + "/" + "f" * 30, size=6), text)]),
        # Extensions that Locara never writes.
        "pax-global-header": tar([(info("a.txt", size=6), text)], fmt=tarfile.PAX_FORMAT,
                                 pax_headers={"comment": "global"}),
        # A valid ustar manifest entry, then GNU-format entries written by tarfile.
        "gnu-longname": manifest_entry()
        + tar([(info("n" * 150, size=6), text)], fmt=tarfile.GNU_FORMAT, manifest=False),
        "gnu-format": manifest_entry()
        + tar([(info("a.txt", size=6), text)], fmt=tarfile.GNU_FORMAT, manifest=False),
    }
    pax = info("a.txt", size=6)
    pax.pax_headers = {"path": "../../escaped-through-pax.txt"}
    cases["pax-header"] = tar([(pax, text)], fmt=tarfile.PAX_FORMAT)

    # Hand-built headers where tarfile is too well-behaved.
    cases["size-field-too-small"] = (
        manifest_entry() + ustar_header(b"a.txt", size=10) + padded(b"A" * 700) + END
    )
    cases["size-field-too-large"] = manifest_entry() + ustar_header(b"a.txt", size=5000) + padded(b"A" * 700)
    cases["bad-checksum"] = manifest_entry() + bytearray(ustar_header(b"a.txt", size=6))
    cases["bad-checksum"] = bytes(cases["bad-checksum"][:-1] + b"X") + padded(text) + END
    cases["directory-with-data"] = (
        manifest_entry() + ustar_header(b"d", b"5", size=512, mode=0o755) + padded(b"D" * 512) + END
    )
    cases["v7-header"] = manifest_entry() + ustar_header(b"a.txt", size=6, magic=b"\x00" * 8) + padded(text) + END
    cases["single-end-block"] = manifest_entry() + b"\x00" * 512
    cases["no-end-marker"] = manifest_entry()

    valid = tar([(info("a.txt", size=6), text)])
    cases["trailing-garbage"] = valid + b"GARBAGE" + b"\x00" * 505
    cases["truncated"] = tar([(info("big.txt", size=3000), b"t" * 3000)])[:2048]

    for name, data in cases.items():
        write(f"{name}.tar.zst", zstd(data))

    # zstd-level hostility.
    big = tar([(info("data.bin", size=1 << 20), bytes(range(256)) * 4096)])
    write("zstd-window-too-large.tar.zst", zstd(big, "--long=28"))
    compressed = zstd(tar([(info("a.txt", size=3000), os.urandom(0) + b"r" * 3000)]))
    write("zstd-truncated.tar.zst", compressed[: len(compressed) // 2])
    write("zstd-trailing-garbage.tar.zst", zstd(valid) + b"not a zstd frame")
    write("not-zstd.tar.zst", valid)

    # Accepted: what other careful tools write (trailing "/" on directory names, 10 KiB records,
    # setuid bits that must be dropped).
    write(
        "accepted-python-ustar.tar.zst",
        zstd(tar([
            (info("bin", tarfile.DIRTYPE, mode=0o755), None),
            (info("bin/app", size=6, mode=0o4755), b"#!/x\n\n"),
            (info("share", tarfile.DIRTYPE, mode=0o1777), None),
            (info("share/readme.txt", size=6, mode=0o600), text),
        ])),
    )


if __name__ == "__main__":
    main()
