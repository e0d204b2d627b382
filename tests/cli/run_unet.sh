#!/usr/bin/env bash
# run_unet.sh — `kolors run unet`: --help, flag refusals, the golden case c0 of
# goldens/tiny-kolors-a/unet.safetensors run through the CLI (inputs extracted to a file at test
# time, output and taps compared by rel-L2), the 1-element timestep broadcast, the fp16 variant,
# and clear errors for malformed inputs (missing tensor, wrong rank, channels, batch, width).
# Needs python3 (standard library only): tests/cli/st_tool.py cuts and compares the files.
source "$(dirname "$0")/common.bash"
GOLD=$TD/goldens/tiny-kolors-a/unet.safetensors

out=$("$CLI" run unet --help); rc=$?
check $rc "--help exits 0"
for flag in -m --in -o --taps --variant -t --precision -v; do
    echo "$out" | grep -q -- " $flag"; check $? "--help documents $flag"
done
err=$("$CLI" run unet -m "$MODEL" -o "$TMP/x.safetensors" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q -- "--in"; check $? "missing input refused naming --in ($err)"
err=$("$CLI" run unet -m "$MODEL" --in "$TMP/x.safetensors" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q -- "-o"; check $? "missing output refused naming -o ($err)"
"$CLI" run unet --bogus >/dev/null 2>&1; [ $? -ne 0 ]; check $? "unknown option refused"
err=$("$CLI" run unet -m "$MODEL" --in "$TMP/x.safetensors" -o "$TMP/no-dir/o.safetensors" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q -- "-o .*does not exist"; check $? "output in a missing folder refused before reading anything ($err)"
err=$("$CLI" run unet -m "$MODEL" --in "$TMP/x.safetensors" -o "$TMP/o.safetensors" --taps "$TMP" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q -- "--taps .*is a folder"; check $? "--taps naming a folder refused ($err)"

if ! command -v python3 >/dev/null || [ ! -f "$GOLD" ] || [ ! -f "$MODEL/unet/config.json" ]; then
    echo "SKIP: python3 or $GOLD / $MODEL absent ($pass passed, $fail failed so far)"
    [ $fail -eq 0 ] && exit 77 || exit 1
fi

PY="python3 ${KOLORS_SOURCE_DIR:-$(dirname "$0")/../..}/tests/cli/st_tool.py"
$PY cut "$GOLD" "$TMP/c0.safetensors" c0; check $? "extract c0 inputs"

err=$("$CLI" run unet -m "$MODEL" --in "$TMP/c0.safetensors" -o "$TMP/o.safetensors" --taps "$TMP/t.safetensors" -t 2 2>&1); rc=$?
check $rc "run unet on c0 ($err)"
# fp32 component tolerance of the task (upstream fp32 vs fp64 differ by 1e-6)
$PY cmp "$TMP/o.safetensors" noise_pred "$GOLD" c0.out 1e-4; check $? "c0 noise_pred matches the golden"
for tap in time_embedding add_embedding encoder_hid_proj conv_in down_block0 down_block2 mid_block up_block0 up_block2; do
    $PY cmp "$TMP/t.safetensors" $tap "$GOLD" c0.dbg.$tap 1e-4 >/dev/null; check $? "tap $tap matches the golden"
done

# a 1-element timestep [1] is broadcast like the 0-d one
$PY cut "$GOLD" "$TMP/c0b.safetensors" c0 edit=timestep:1
"$CLI" run unet -m "$MODEL" --in "$TMP/c0b.safetensors" -o "$TMP/ob.safetensors" -t 1 2>&1; check $? "timestep [1] accepted"
cmp -s "$TMP/o.safetensors" "$TMP/ob.safetensors"; check $? "timestep [1] gives the same bytes (and -t 1 == -t 2)"

# fp16 weights variant (tolerance measured in tests/diffusion/test_unet.c: 1.3e-3 observed)
if [ -f "$ORIG/unet/diffusion_pytorch_model.fp16.safetensors" ]; then
    err=$("$CLI" run unet -m "$ORIG" --variant fp16 --in "$TMP/c0.safetensors" -o "$TMP/o16.safetensors" 2>&1); check $? "fp16 variant runs ($err)"
    $PY cmp "$TMP/o16.safetensors" noise_pred "$GOLD" c0.out 5e-3; check $? "fp16 variant within 5e-3"
    cmp -s "$TMP/o.safetensors" "$TMP/o16.safetensors"; [ $? -ne 0 ]; check $? "fp16 variant really used other weights"
fi

# malformed inputs: exit code 1, a message naming the tensor, no output file
bad() { # name, expected message fragment, cut args...
    local what=$1 frag=$2; shift 2
    rm -f "$TMP/bad_o.safetensors"
    $PY cut "$GOLD" "$TMP/bad.safetensors" c0 "$@"
    err=$("$CLI" run unet -m "$MODEL" --in "$TMP/bad.safetensors" -o "$TMP/bad_o.safetensors" 2>&1); rc=$?
    [ $rc -eq 1 ] && echo "$err" | grep -q -- "$frag" && [ ! -e "$TMP/bad_o.safetensors" ]
    check $? "$what refused with '$frag' ($err)"
}
bad "missing time_ids" "time_ids" drop=time_ids
bad "missing sample" "sample" drop=sample
bad "sample of rank 3" "sample" edit=sample:2,4,64
bad "3-channel sample" "channels" edit=sample:2,3,8,8
bad "timestep of 3 for batch 2" "timestep" edit=timestep:3
bad "text states of another batch" "encoder_hidden_states" edit=encoder_hidden_states:1,256,64
bad "text states of the wrong width" "wide" edit=encoder_hidden_states:2,256,48 edit=text_embeds:2,48
bad "text_embeds narrower than the states" "text_embeds" edit=text_embeds:2,32
bad "time_ids [2,5]" "time_ids" edit=time_ids:2,5
bad "empty sample" "sample" edit=sample:0,4,8,8

finish
