#!/usr/bin/env bash
# mkdemo.sh — the committed demo model (models/demo) is exactly what tools/mkdemo writes, and both
# it and the tiny-a-sized variant pass `kolors info`'s architecture check (every tensor the configs
# imply, with the right shapes, and nothing else).
source "$(dirname "$0")/common.bash"
SRC=${KOLORS_SOURCE_DIR:?KOLORS_SOURCE_DIR not set}
MK=$(dirname "$CLI")/tools/mkdemo/kolors-mkdemo
[ -x "$MK" ] || { echo "SKIP: $MK not built"; exit 77; }

"$MK" "$TMP/demo" >/dev/null; check $? "kolors-mkdemo runs"
diff -r "$TMP/demo" "$SRC/models/demo" >/dev/null; check $? "models/demo is byte-identical to a fresh kolors-mkdemo run (regenerate and commit it)"
out=$("$CLI" info -m "$TMP/demo" 2>&1); check $? "kolors info accepts the demo model: $out"
"$MK" "$TMP/tiny" --like-tiny-a >/dev/null; check $? "kolors-mkdemo --like-tiny-a runs"
out=$("$CLI" info -m "$TMP/tiny" 2>&1); check $? "kolors info accepts the tiny-a-sized model: $out"
size=$(du -sk "$SRC/models/demo" | cut -f1)
[ "$size" -lt 8192 ]; check $? "demo model stays small (${size} KiB)"
"$MK" >/dev/null 2>&1; [ $? -ne 0 ]; check $? "missing output folder refused"
"$MK" "$TMP/x" --bogus >/dev/null 2>&1; [ $? -ne 0 ]; check $? "unknown option refused"

finish
