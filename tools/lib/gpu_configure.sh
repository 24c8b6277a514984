# shellcheck shell=bash
# Configures the CUDA build on a GPU host (shared/device/README.md): sources .deps/env.sh, then runs CMake with
# LibTorch 2.11 and sm_90. libcurl (reward/genrm's HTTP judge): CMake links the host's libcurl.so.4 and, where the
# host has no curl/curl.h, compiles against the carried Debian headers (libcurl4-openssl-dev in .deps; same
# soname, a newer library than the headers: compatible).
# Usage: source tools/lib/gpu_configure.sh; m1rl_gpu_configure BUILD_DIR
m1rl_gpu_configure() {
  local build_dir=$1
  # shellcheck disable=SC1091
  source .deps/env.sh
  local curl_args=()
  local lib=/usr/lib/x86_64-linux-gnu/libcurl.so.4
  local carried=$M1RL_DEPS_PREFIX/usr/include/x86_64-linux-gnu
  # The carried libcurl4-openssl-dev has libcurl.a and a libcurl.so link to a libcurl.so.4 that is not carried:
  # left alone, FindCURL picks the static archive, whose link needs psl/ssh2/gssapi/zstd (seen 2026-12-06).
  if [ -e "$lib" ]; then
    curl_args=(-DCURL_NO_CURL_CMAKE=ON -DCURL_LIBRARY="$lib" -DCURL_LIBRARY_RELEASE="$lib")
  else
    echo "m1rl_gpu_configure: no $lib on this host; unpack .deps/curl-fallback (README)" >&2
  fi
  if [ ! -e /usr/include/curl/curl.h ] && [ ! -e /usr/include/x86_64-linux-gnu/curl/curl.h ]; then
    if [ -e "$carried/curl/curl.h" ]; then
      curl_args+=(-DCURL_INCLUDE_DIR="$carried")
    else
      echo "m1rl_gpu_configure: no curl/curl.h on this host; carry libcurl4-openssl-dev in .deps (README)" >&2
    fi
  fi
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 "${curl_args[@]}"
}
