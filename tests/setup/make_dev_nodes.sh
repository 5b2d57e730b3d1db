#!/bin/sh
# Test setup (CTest fixture "dev_nodes"): the NVIDIA character device nodes
# /dev/nvidia0 and /dev/nvidiactl, for fixtures whose `overlays` place them
# (fixtures/gpu-nvidia-dell-bare-metal). Device nodes cannot be committed to
# git, so they are made here with mknod, which needs root (CAP_MKNOD).
# Numbers and mode as NVIDIA's CUDA installation guide for Linux creates them
# when no udev rule does ("Device Node Verification": `mknod -m 666
# /dev/nvidia$i c 195 $i` and `mknod -m 666 /dev/nvidiactl c 195 255`).
# Usage: make_dev_nodes.sh OUTDIR
set -eu
out=$1
work=$out.tmp
rm -rf "$work"
mkdir -p "$work/nvidia"
if ! mknod -m 666 "$work/nvidia/nvidia0" c 195 0 ||
   ! mknod -m 666 "$work/nvidia/nvidiactl" c 195 255; then
  echo "make_dev_nodes.sh: mknod failed; run the tests as root (CAP_MKNOD)" >&2
  rm -rf "$work"
  exit 1
fi
rm -rf "$out"
mv "$work" "$out"
