#!/bin/sh
# Fetch NVIDIA's real user-space driver libraries (libcuda.so.1 and
# libnvidia-ml.so.1, driver 535 from Debian 12's non-free component) into
# build/nvidia/ for the tests, without installing the driver packages they
# depend on: a private apt source list, `apt-get download`, `dpkg -x`.
#
#   tools/fetch-nvidia.sh [DIR]     (default build/nvidia; prints the libcuda path)
set -eu
dir=${1:-build/nvidia}
lib="$dir/root/usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so.1"
if [ -e "$lib" ]; then
	echo "$lib"
	exit 0
fi
mkdir -p "$dir/lists/partial" "$dir/debs"
dir=$(cd "$dir" && pwd)
cat > "$dir/sources.list" <<LIST
deb http://deb.debian.org/debian bookworm main non-free
LIST
apt_opts="-o Dir::Etc::SourceList=$dir/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$dir/lists -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get -q $apt_opts update >&2 || { echo "fetch-nvidia: apt-get update failed (network?)" >&2; exit 1; }
# shellcheck disable=SC2086
(cd "$dir/debs" && apt-get -q $apt_opts download libcuda1 libnvidia-ml1 >&2) ||
	{ echo "fetch-nvidia: cannot download libcuda1/libnvidia-ml1 from non-free" >&2; exit 1; }
for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
echo "$dir/root/usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so.1"
