#!/usr/bin/env bash
# Install (as root) or name (otherwise) the system libraries the Python wheels need.
#   libusb-1.0-0                 open3d's shared library links it
#   libegl1 libegl-mesa0 libgl1-mesa-dri libgles2
#                                MuJoCo off-screen rendering with MUJOCO_GL=egl
# Optional, for tests that run Gazebo's own SDF parser: ignition-tools libsdformat-dev.
set -u
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libusb-1.0.so.0' || need+=(libusb-1.0-0)
have_lib 'libEGL.so.1' || need+=(libegl1)
have_lib 'libEGL_mesa.so.0' || need+=(libegl-mesa0 libgl1-mesa-dri)
have_lib 'libGLESv2.so.2' || need+=(libgles2)
optional=()
command -v ign >/dev/null 2>&1 || optional+=(ignition-tools libsdformat-dev)

if [ ${#need[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: installing ${need[*]} ${optional[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
      echo "sysdeps: apt-get install ${need[*]} failed" >&2; exit 1; }
  fi
  if [ ${#optional[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null 2>&1 ||
      echo "sysdeps: optional ${optional[*]} not installed; SDF checks will skip"
  fi
  exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "sysdeps: missing system libraries. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "sysdeps: optional: sudo apt-get install -y ${optional[*]} (Gazebo SDF checks in tests)"
