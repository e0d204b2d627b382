#!/usr/bin/env bash
# encode.sh — `kolors encode`: --help, flag refusals, the F32 tensors it writes (names, shapes,
# size) for a batch of prompts on tiny-kolors-a, and thread-count independence (byte-identical
# output with -t 1 and -t 2, as ops.h promises). Numbers vs the goldens: tests/cli/test_encode.c.
source "$(dirname "$0")/common.bash"

out=$("$CLI" encode --help); rc=$?
check $rc "--help exits 0"
for flag in -m -p -o -t --precision -v; do
    echo "$out" | grep -q -- " $flag"; check $? "--help documents $flag"
done

err=$("$CLI" encode -m "$MODEL" -o "$TMP/x.safetensors" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q -- "-p"; check $? "missing prompt refused naming -p ($err)"
err=$("$CLI" encode -m "$MODEL" -p a 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q -- "-o"; check $? "missing output refused naming -o ($err)"
for bad in 0 -3 x 5000; do
    err=$("$CLI" encode -m "$MODEL" -p a -o "$TMP/x.safetensors" -t "$bad" 2>&1); rc=$?
    [ $rc -ne 0 ] && echo "$err" | grep -q -- "--threads" && [ ! -e "$TMP/x.safetensors" ]
    check $? "threads '$bad' refused naming --threads ($err)"
done
"$CLI" encode -m "$MODEL" -p a -o "$TMP/x.safetensors" --bogus >/dev/null 2>&1; [ $? -ne 0 ]; check $? "unknown option refused"
err=$("$CLI" encode -m "$MODEL" -p a -o "$TMP/no-dir/x.safetensors" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "does not exist"; check $? "output in a missing folder refused before any work ($err)"
err=$("$CLI" encode -m "$MODEL" -p a -o "$TMP" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "is a folder"; check $? "output naming a folder refused ($err)"
err=$("$CLI" encode -m "$TMP/nowhere" -p a -o "$TMP/x.safetensors" 2>&1); rc=$?
[ $rc -ne 0 ] && [ -n "$err" ] && [ ! -e "$TMP/x.safetensors" ]; check $? "missing model folder refused ($err)"

if [ ! -f "$MODEL/text_encoder/config.json" ]; then
    echo "SKIP: $MODEL absent"
    exit 77
fi
err=$("$CLI" encode -m "$MODEL" -p "一只可爱的小猫" -p "" -p "a red apple" -o "$TMP/a.safetensors" -t 1 2>&1); rc=$?
check $rc "encode 3 prompts exits 0 ($err)"
hdr=$(head -c 300 "$TMP/a.safetensors" | tr -d ' \000')
echo "$hdr" | grep -q '"prompt_embeds":{"dtype":"F32","shape":\[3,256,64\]'; check $? "prompt_embeds F32 [3,256,64]"
echo "$hdr" | grep -q '"pooled_prompt_embeds":{"dtype":"F32","shape":\[3,64\]'; check $? "pooled_prompt_embeds F32 [3,64]"
hlen=$(od -An -tu8 -N8 "$TMP/a.safetensors" | tr -d ' ')
size=$(wc -c < "$TMP/a.safetensors")
[ "$size" -eq $((8 + hlen + (3 * 256 * 64 + 3 * 64) * 4)) ]; check $? "file size matches the two tensors ($size)"

"$CLI" encode -m "$MODEL" -p "一只可爱的小猫" -p "" -p "a red apple" -o "$TMP/b.safetensors" -t 2 >/dev/null 2>&1
check $? "encode with -t 2 exits 0"
cmp -s "$TMP/a.safetensors" "$TMP/b.safetensors"; check $? "-t 1 and -t 2 give byte-identical files"

finish
