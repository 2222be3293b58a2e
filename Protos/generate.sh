#!/bin/sh
# Regenerates the committed protobuf-c code from Protos/. Needs protoc-c
# (Debian package protobuf-c-compiler). Run from anywhere.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/Sources/MoeProtoC"
protoc-c --proto_path="$root/Protos" --c_out="$out" moed/v1/moed.proto
# SwiftPM wants public headers under include/; the .c file includes
# "moed/v1/moed.pb-c.h", which resolves there.
mkdir -p "$out/include/moed/v1"
mv "$out/moed/v1/moed.pb-c.h" "$out/include/moed/v1/moed.pb-c.h"
mv "$out/moed/v1/moed.pb-c.c" "$out/moed.pb-c.c"
rmdir "$out/moed/v1" "$out/moed"
echo "generated $out/moed.pb-c.c and include/moed/v1/moed.pb-c.h"
