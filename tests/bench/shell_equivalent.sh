#!/usr/bin/env bash
# What an admin runs today to answer the scan's main questions by hand:
# uname, os-release, SELinux, the cgroup layout, `modinfo shiftfs`, runc
# and containerd versions, lspci and the mount table (findmnt, df). The
# benchmark (tests/bench/scan_bench.sh) times it beside `cvm-preflight
# scan` of the same root and checks that the two give the same answers.
#
# Usage: shell_equivalent.sh [ROOT]
#   ROOT "/" (default): the commands as run on a live node.
#   ROOT a folder (a fixture): the same questions through the tools'
#   root options (modinfo -b, dpkg-query --admindir) and the root's files.
# Prints one "fact=value" line per answer, with the scan's fact names; an
# empty value means "no such thing here" (the scan has no such fact).
set -u
root=${1:-/}
r=${root%/}

if [ "$root" = / ]; then
  release=$(uname -r)
else
  release=$(cat "$r/proc/sys/kernel/osrelease" 2>/dev/null)
fi
echo "kernel.release=$release"

# os-release(5): /etc first, then /usr/lib (an absolute link resolves in
# the root).
osr=$r/etc/os-release
if [ -L "$osr" ]; then
  t=$(readlink "$osr")
  case $t in /*) osr=$r$t ;; *) osr=$r/etc/$t ;; esac
fi
[ -e "$osr" ] || osr=$r/usr/lib/os-release
(
  ID= VERSION_ID=
  # shellcheck disable=SC1090
  [ -r "$osr" ] && . "$osr"
  echo "os.id=$ID"
  echo "os.version_id=$VERSION_ID"
)

# SELinux: getenforce where installed, else selinuxfs.
if [ "$root" = / ] && command -v getenforce >/dev/null; then
  mode=$(getenforce | tr 'A-Z' 'a-z')
elif [ -r "$r/sys/fs/selinux/enforce" ]; then
  case $(cat "$r/sys/fs/selinux/enforce") in 1) mode=enforcing ;; *) mode=permissive ;; esac
elif [ "$root" = / ] || [ -d "$r/sys/fs" ]; then
  mode=disabled
else
  mode=  # a folder without /sys/fs: unknown, as the scan says
fi
echo "selinux.mode=$mode"

if [ "$root" = / ]; then
  case $(stat -fc %T /sys/fs/cgroup) in
    cgroup2fs) cg=v2 ;;
    *) if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then cg=hybrid; else cg=v1; fi ;;
  esac
  echo "cgroup.version=$cg"
fi

# shiftfs: loaded (lsmod), else known to the module index (modinfo).
if [ -d "$r/lib/modules/$release" ]; then
  if [ "$root" = / ]; then
    loaded=$(lsmod | awk '$1 == "shiftfs"')
    info=$(modinfo -F filename shiftfs 2>/dev/null)
  else
    loaded=$(awk '$1 == "shiftfs"' "$r/proc/modules" 2>/dev/null)
    info=$(modinfo -b "$r" -k "$release" -F filename shiftfs 2>/dev/null)
  fi
  if [ -n "$loaded" ]; then
    s=loaded
  elif [ "$info" = "(builtin)" ]; then
    s=builtin
  elif [ -n "$info" ]; then
    s=available
  else
    s=absent
  fi
  echo "kernel.modules.shiftfs=$s"
fi

# runc and containerd: `--version` on a live node, the package database of
# a folder (its binaries are not run).
for tool in runc containerd; do
  v=
  if [ "$root" = / ]; then
    if command -v "$tool" >/dev/null; then
      v=$("$tool" --version 2>/dev/null | awk 'NR == 1 {print $3}')
      v=${v#v}
    fi
  elif [ -x "$r/usr/bin/$tool" ] && [ -d "$r/var/lib/dpkg" ]; then
    pkg=$(dpkg-query --admindir="$r/var/lib/dpkg" -S "/usr/bin/$tool" 2>/dev/null | cut -d: -f1)
    if [ -n "$pkg" ]; then
      echo "runtime.$tool.package=$pkg"
      echo "runtime.$tool.package_version=$(dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${Version}' "$pkg")"
      continue
    fi
  fi
  [ "$root" = / ] && echo "runtime.$tool.version=$v"
done

# GPUs: display controllers (class 03xx) by vendor.
if [ "$root" = / ]; then
  pci=$(lspci -n | awk '{print $2, $3}')
else
  pci=$(for d in "$r"/sys/bus/pci/devices/*; do
    [ -r "$d/class" ] || continue
    c=$(cat "$d/class") v=$(cat "$d/vendor")
    echo "${c:2:4}: ${v:2}:"
  done)
fi
count() { printf '%s\n' "$pci" | awk -v v="$1" '$1 ~ /^03/ && $2 ~ "^" v ":" {n++} END {print n + 0}'; }
if [ "$root" = / ] || [ -d "$r/sys/bus/pci/devices" ]; then
  echo "gpu.nvidia.count=$(count 10de)"
  echo "gpu.amd.count=$(count 1002)"
fi

# The mount holding each host path (one findmnt of the table, the longest
# mount point that holds the resolved path) and the free space (one df).
if [ "$root" = / ]; then
  names=() there=()
  for p in /usr/src /lib/modules /var/run /var/lib /var/lib/kubelet /var/lib/containerd \
    /var/lib/docker /var/lib/sysbox /tmp; do
    name=${p#/} name=${name//\//_}
    if [ -e "$p" ]; then
      names+=("$name") there+=("$p")
    else
      echo "hostpath.$name.exists=false"
    fi
  done
  if [ ${#there[@]} -gt 0 ]; then
    paste <(printf '%s\n' "${names[@]}") <(realpath "${there[@]}") \
      <(df -B1 --output=avail "${there[@]}" | tail -n +2 | tr -d ' ') |
      awk -v table="$(findmnt -rn -o TARGET,FSTYPE)" '
        BEGIN { n = split(table, rows, "\n")
                for (i = 1; i <= n; i++) { split(rows[i], f, " "); target[i] = f[1]; type[i] = f[2] } }
        { best = ""; bt = ""
          for (i = 1; i <= n; i++) {
            t = target[i]
            if ((t == "/" || $2 == t || index($2, t "/") == 1) && length(t) >= length(best)) { best = t; bt = type[i] }
          }
          print "hostpath." $1 ".exists=true"
          print "hostpath." $1 ".resolved=" $2
          print "hostpath." $1 ".fstype=" bt
          print "hostpath." $1 ".mount_point=" best
          print "hostpath." $1 ".free_bytes=" $3 }'
  fi
fi
exit 0
