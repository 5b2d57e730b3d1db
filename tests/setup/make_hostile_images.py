#!/usr/bin/env python3
"""Hostile image inputs for tests/probe/image_unpack_test.cpp, built on
purpose with python3's tarfile (the test setup, make_image_archives.sh,
runs it). Usage: make_hostile_images.py OUT_DIR SENTINEL_DIR

OUT_DIR/tars/NAME.tar        one layer each (a tar stream as in a blob)
OUT_DIR/layouts/NAME/        the same layer as a one-layer OCI image layout
                             (index.json, manifest, config), so the error
                             names the layer's digest
OUT_DIR/layouts/missing-blob, digest-mismatch, corrupt-gzip: broken layouts
OUT_DIR/layouts/merged-usr   a merged-/usr base and a layer written through
                             its links (tars/merged-usr-{base,upper}.tar)
OUT_DIR/opaque-layer.tar     a real opaque-folder layer (buildah writes
                             per-file whiteouts instead, so it is crafted)
OUT_DIR/million.tar.gz       1,047,552 empty files in 1,025 folders
                             (1,048,577 entries)

SENTINEL_DIR is an absolute folder outside any unpack target; the attack
entries aim at it and the test checks it stays empty.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

out, sentinel = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "tars"), exist_ok=True)
os.makedirs(os.path.join(out, "layouts"), exist_ok=True)


def member(tar, name, data=b"", type_=tarfile.REGTYPE, linkname="", mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.linkname = linkname
    ti.mtime = 1700000000
    for k, v in kw.items():
        setattr(ti, k, v)
    if type_ == tarfile.REGTYPE:
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
    else:
        tar.addfile(ti)


def write_layout(dirname, layers, media="application/vnd.oci.image.layer.v1.tar", break_digest=False,
                 drop_blob=False, arch="amd64"):
    """An OCI image layout of `layers` (bytes each), as image-spec's
    image-layout.md describes it."""
    blobs = os.path.join(dirname, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return "sha256:" + d

    descs = []
    diff_ids = []
    for data in layers:
        # The unpacker checks OCI layers against the manifest's digests only.
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
        descs.append({"mediaType": media, "digest": put(data), "size": len(data)})
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "config": {}}).encode()
    cdesc = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": cdesc, "layers": descs}).encode()
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
             "size": len(manifest), "platform": {"architecture": arch, "os": "linux"}}
    with open(os.path.join(dirname, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)
    with open(os.path.join(dirname, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    last = os.path.join(blobs, descs[-1]["digest"][7:])
    if break_digest:
        # In the zero blocks after the end marker: the tar still reads
        # whole, only the digest (over the whole blob) tells.
        with open(last, "r+b") as f:
            f.seek(-100, os.SEEK_END)
            f.write(b"\x01")
    if drop_blob:
        os.unlink(last)
    return descs[-1]["digest"]


def hostile(name, build):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    data = buf.getvalue()
    with open(os.path.join(out, "tars", name + ".tar"), "wb") as f:
        f.write(data)
    write_layout(os.path.join(out, "layouts", name), [data])


S = sentinel.lstrip("/")
hostile("dotdot", lambda t: (member(t, "ok.txt", b"fine\n"),
                             member(t, "a/../../escape.txt", b"out\n")))
hostile("dotdot-sentinel", lambda t: member(t, "../../../../../../../.." + sentinel + "/pwned", b"out\n"))
# Absolute names are stripped of their "/" (as GNU tar does): the file
# lands inside the root, under the sentinel's path, never in the sentinel.
hostile("absolute", lambda t: member(t, sentinel + "/pwned", b"abs\n"))
hostile("symlink-then-file", lambda t: (member(t, "evil", type_=tarfile.SYMTYPE, linkname=sentinel),
                                        member(t, "evil/pwned", b"through the link\n")))
hostile("symlink-relative-then-file",
        lambda t: (member(t, "d", type_=tarfile.DIRTYPE, mode=0o755),
                   member(t, "d/evil", type_=tarfile.SYMTYPE, linkname="../../../../../../.." + sentinel),
                   member(t, "d/evil/pwned", b"through the link\n")))
# A link that points out of the root, or a loop, on the way to an entry:
# links are followed inside the root only (".." stops at it, "/" is its
# own), as container runtimes resolve a layer entry's parent.
hostile("symlink-dotdot-then-file",
        lambda t: (member(t, "up", type_=tarfile.SYMTYPE, linkname="../../../../../.."),
                   member(t, "up/etc/pwned", b"through the link\n")))
hostile("symlink-loop", lambda t: (member(t, "a", type_=tarfile.SYMTYPE, linkname="b"),
                                   member(t, "b", type_=tarfile.SYMTYPE, linkname="a"),
                                   member(t, "a/x", b"never\n")))
hostile("symlink-to-file-then-file", lambda t: (member(t, "f", b"a file\n"),
                                                member(t, "l", type_=tarfile.SYMTYPE, linkname="f"),
                                                member(t, "l/x", b"never\n")))
hostile("hardlink-dotdot-symlink",
        lambda t: (member(t, "up", type_=tarfile.SYMTYPE, linkname="../../../../../.."),
                   member(t, "hl", type_=tarfile.LNKTYPE, linkname="up/etc/passwd")))
hostile("hardlink-outside", lambda t: member(t, "passwd", type_=tarfile.LNKTYPE, linkname="../../../../etc/passwd"))
hostile("hardlink-absolute", lambda t: member(t, "passwd", type_=tarfile.LNKTYPE, linkname="/etc/passwd"))
hostile("hardlink-missing", lambda t: (member(t, "real", b"x\n"),
                                       member(t, "hl", type_=tarfile.LNKTYPE, linkname="not-there")))
hostile("hardlink-through-symlink",
        lambda t: (member(t, "etcl", type_=tarfile.SYMTYPE, linkname="/etc"),
                   member(t, "hl", type_=tarfile.LNKTYPE, linkname="etcl/passwd")))
hostile("devices", lambda t: (member(t, "dev", type_=tarfile.DIRTYPE, mode=0o755),
                              member(t, "dev/sda", type_=tarfile.BLKTYPE, devmajor=8, devminor=0),
                              member(t, "dev/null", type_=tarfile.CHRTYPE, devmajor=1, devminor=3),
                              member(t, "dev/fifo", type_=tarfile.FIFOTYPE),
                              member(t, "dev/regular", b"kept\n"),
                              member(t, "usr/bin/su", b"#!/bin/sh\n", mode=0o4755)))


def sparse(tar):
    # GNU sparse format 1.0 in pax headers (what GNU tar --sparse writes):
    # one 512-byte data block standing for a file of 1 TiB.
    real = 1 << 40
    sparse_map = b"1\n%d\n512\n" % (real - 512)
    data = sparse_map.ljust(512, b"\0") + b"x" * 512
    ti = tarfile.TarInfo("GNUSparseFile.0/huge-sparse")
    ti.size = len(data)
    ti.mode = 0o644
    ti.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                      "GNU.sparse.name": "huge-sparse", "GNU.sparse.realsize": str(real)}
    member(tar, "before.txt", b"before\n")
    tar.addfile(ti, io.BytesIO(data))


hostile("huge-sparse", sparse)


def huge_header(tar):
    # A header that says 64 GiB, then only 1 KiB of data: refused on the
    # header, before a byte of it is written.
    member(tar, "before.txt", b"before\n")
    ti = tarfile.TarInfo("huge-file")
    ti.size = 64 << 30
    tar.fileobj.write(ti.tobuf(tarfile.PAX_FORMAT))
    tar.fileobj.write(b"y" * 1024)
    tar.offset += 512 + 1024


hostile("huge-file", huge_header)

# Broken layouts around a good layer.
good = io.BytesIO()
with tarfile.open(fileobj=good, mode="w") as t:
    member(t, "etc", type_=tarfile.DIRTYPE, mode=0o755)
    for i in range(64):
        member(t, "etc/file%02d" % i, (b"line %d of real-ish text\n" % i) * 40)
good = good.getvalue()
write_layout(os.path.join(out, "layouts", "missing-blob"), [good], drop_blob=True)
write_layout(os.path.join(out, "layouts", "digest-mismatch"), [good], break_digest=True)
gz = gzip.compress(good, mtime=0)
corrupt = bytearray(gz[: len(gz) // 2])
corrupt[len(corrupt) // 2] ^= 0xFF
write_layout(os.path.join(out, "layouts", "corrupt-gzip"), [bytes(corrupt)],
             media="application/vnd.oci.image.layer.v1.tar+gzip")
write_layout(os.path.join(out, "layouts", "truncated-gzip"), [gz[: len(gz) * 2 // 3]],
             media="application/vnd.oci.image.layer.v1.tar+gzip")

# An opaque folder: /opt/d of the lower layers is replaced by this layer's.
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    member(t, "opt", type_=tarfile.DIRTYPE, mode=0o755)
    member(t, "opt/d", type_=tarfile.DIRTYPE, mode=0o755)
    member(t, "opt/d/new", b"from the opaque layer\n")  # before the marker: stays
    member(t, "opt/d/.wh..wh..opq")
    member(t, "opt/d/after", b"after the marker\n")
with open(os.path.join(out, "opaque-layer.tar"), "wb") as f:
    f.write(buf.getvalue())

# Merged /usr (Debian 12, Ubuntu 22.04: lib -> usr/lib, sbin -> usr/sbin,
# bin -> usr/bin) and a later layer whose entries are named through those
# links, as tar-writing image tools name them: they must land in /usr.
# usr/bin is not in the base, so bin/ is a dangling link until the upper
# layer makes its target.
def tar_bytes(build):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return buf.getvalue()


merged_base = tar_bytes(lambda t: (
    member(t, "usr", type_=tarfile.DIRTYPE, mode=0o755),
    member(t, "usr/lib", type_=tarfile.DIRTYPE, mode=0o755),
    member(t, "usr/lib/systemd", type_=tarfile.DIRTYPE, mode=0o755),
    member(t, "usr/lib/systemd/systemd", b"\x7fELF systemd stand-in\n", mode=0o755),
    member(t, "usr/lib/gone", b"whited out by the upper layer\n"),
    member(t, "usr/lib/old", type_=tarfile.DIRTYPE, mode=0o755),
    member(t, "usr/lib/old/a", b"hidden by the opaque marker\n"),
    member(t, "usr/sbin", type_=tarfile.DIRTYPE, mode=0o755),
    member(t, "lib", type_=tarfile.SYMTYPE, linkname="usr/lib"),
    member(t, "sbin", type_=tarfile.SYMTYPE, linkname="usr/sbin"),
    member(t, "bin", type_=tarfile.SYMTYPE, linkname="usr/bin"),
    member(t, "lib64", type_=tarfile.SYMTYPE, linkname="/usr/lib")))
merged_upper = tar_bytes(lambda t: (
    member(t, "lib/systemd/system/foo.service", b"[Service]\nExecStart=/bin/true\n"),
    member(t, "sbin/init", type_=tarfile.SYMTYPE, linkname="/lib/systemd/systemd"),
    member(t, "bin/sh", b"#!stand-in\n", mode=0o755),
    member(t, "lib64/ld.so", b"via an absolute link\n"),
    member(t, "lib/.wh.gone"),
    member(t, "lib/old/b", b"this layer's\n"),
    member(t, "lib/old/.wh..wh..opq"),
    member(t, "usr/lib/old/c", b"this layer's too\n"),
    member(t, "sbin/hl", type_=tarfile.LNKTYPE, linkname="lib/systemd/systemd")))
for name, data in (("merged-usr-base", merged_base), ("merged-usr-upper", merged_upper)):
    with open(os.path.join(out, "tars", name + ".tar"), "wb") as f:
        f.write(data)
write_layout(os.path.join(out, "layouts", "merged-usr"), [merged_base, merged_upper])

# A million empty entries (and a few), gzip-compressed: refused at the
# default entry limit (1,000,000).
path = os.path.join(out, "million.tar.gz")
with gzip.open(path + ".part", "wb", compresslevel=6) as g:
    tmpl = tarfile.TarInfo("x")
    tmpl.mode = 0o644
    count = 0
    for d in range(1025):
        ti = tarfile.TarInfo("d%04d" % d)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        g.write(ti.tobuf(tarfile.USTAR_FORMAT))
        for i in range(1023 if d < 1024 else 0):
            tmpl.name = "d%04d/f%04d" % (d, i)
            g.write(tmpl.tobuf(tarfile.USTAR_FORMAT))
            count += 1
    g.write(b"\0" * 1024)
os.rename(path + ".part", path)
print("hostile images in %s (million.tar.gz: %d files)" % (out, count))
