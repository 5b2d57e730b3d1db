#pragma once
// The filesystems on the block devices behind /var/lib (and the kubelet and
// containerd directories when they are on another device), read from the
// superblock with libblkid; for XFS, ftype from the XFS superblock itself.
// Reads: earlier facts hostpath.<name>.{resolved,source}; the mount table
//        (ReadMountTable) for the device numbers; the mount source through
//        HostRoot::OpenBlockDevice, else /dev/<DEVNAME> from
//        /sys/dev/block/<major>:<minor>/uevent when the source is not a
//        device path or does not exist in the root (/dev/root).
// Facts: blockdev.<name>.{type,uuid,label,xfs_ftype}.
// A path without mount facts (the storage probe said why) is skipped; a
// mount with no block device (tmpfs, overlay, NFS: device major 0 and a
// source outside /dev) is skipped without error. Read errors leave the
// facts out with an error naming the device path.

#include <string>
#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

// XFS directory entries carry the file type (ftype=1): per the on-disk
// superblock (fs/xfs/libxfs/xfs_format.h, struct xfs_dsb, big-endian), a
// v5 filesystem has XFS_SB_FEAT_INCOMPAT_FTYPE (1 << 0) in
// sb_features_incompat (offset 216); a v4 one XFS_SB_VERSION2_FTYPE
// (0x200) in sb_features2 (offset 200), valid when sb_versionnum (offset
// 100) has XFS_SB_VERSION_MOREBITSBIT (0x8000). Returns 1 or 0; an error
// when the bytes are not an XFS superblock ("XFSB" at offset 0).
Result<int> ParseXfsFtype(std::string_view superblock);

// DEVNAME= of a /sys/dev/block/M:m/uevent file, or "" when absent.
std::string DevNameFromUevent(std::string_view text);

ProbeOutput ProbeBlockDevices(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
