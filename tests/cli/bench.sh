#!/usr/bin/env bash
# bench.sh — `kolors bench`: --help, flag refusals (exit 2 with a message naming the flag), and
# each workload at a tiny size, on the tiny-kolors-a model (-m) and with random weights at a
# reduced size (a few seconds each on 2 threads), checking that the one JSON line carries the
# documented keys and plausible values. Timings themselves are not checked (they never gate CI).
# No python needed: keys are checked with grep.
source "$(dirname "$0")/common.bash"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# refused: ARGS... -> exit 2 and a message containing $PAT
refused() {
    local pat=$1; shift
    local err rc
    err=$("$CLI" bench "$@" 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$err" | grep -q -- "$pat"; check $? "bench $* refused naming '$pat' (rc $rc: $err)"
}

# json_ok NAME LINE: one line, an object, every required key, numbers where numbers belong
json_ok() {
    local what=$1 line=$2
    [ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ]; check $? "$what: exactly one line"
    case "$line" in "{"*"}") check 0 "";; *) check 1 "$what: not a JSON object: $line";; esac
    for k in median_s min_s gflop gflops peak_rss_mb arena_mb weights_mb setup_s; do
        echo "$line" | grep -Eq "\"$k\":[0-9][0-9.e+-]*[,}]"; check $? "$what: numeric key $k in $line"
    done
    for k in threads repeats layers_run layers_total width_div; do
        echo "$line" | grep -Eq "\"$k\":[0-9]+[,}]"; check $? "$what: integer key $k in $line"
    done
    for k in workload precision isa dtype shape weights; do
        echo "$line" | grep -Eq "\"$k\":\"[^\"]+\""; check $? "$what: string key $k in $line"
    done
    echo "$line" | grep -q '"finite":true'; check $? "$what: output finite"
    echo "$line" | grep -Eq '"median_s":0[,}]|"gflop":0[,}]'; [ $? -ne 0 ]; check $? "$what: zero time or work in $line"
}

out=$("$CLI" bench --help); check $? "bench --help exits 0"
for flag in -m --random-weights -W -H --batch --repeat --threads --precision --layers --div --isa --tokens --warmup; do
    echo "$out" | grep -q -- " $flag"; check $? "bench --help documents $flag"
done
"$CLI" --help | grep -q "bench"; check $? "kolors --help lists bench"

refused "unet, text-encoder, vae-decode or vae-encode"
refused "unknown workload" decoder
refused "unknown option" unet --bogus
refused "--width" unet -W 100
refused "--height" unet -H abc
refused "--batch" unet --batch 0
refused "--repeat" vae-decode --repeat 0
refused "--threads" unet --threads -1
refused "--precision" unet --precision fp8
refused "--tiling" vae-decode --tiling sometimes
refused "--weights-dtype" unet --weights-dtype int4
refused "needs a value" unet --layers
refused "exclude each other" unet -m "$MODEL" --random-weights
refused "not -W/-H" text-encoder -W 64
refused "no --layers" vae-decode --layers 2
refused "no --tokens" vae-decode --tokens 8
refused "--tile-size" vae-encode --tile-size 2
refused "--random-weights" unet -m "$MODEL" --div 2

# errors from the library: exit 1 with the reason
err=$("$CLI" bench unet -m "$TD/no-such-model" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "no-such-model"; check $? "missing model folder named (rc $rc: $err)"
err=$("$CLI" bench unet --div 7 --layers 1 -W 64 -H 64 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "divisor 7"; check $? "bad width divisor explained (rc $rc: $err)"
err=$("$CLI" bench unet --isa nosuchisa -W 64 -H 64 --div 10 --layers 1 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -qi "nosuchisa"; check $? "unknown --isa named (rc $rc: $err)"

# random weights, reduced: each well under 5 s on 2 threads
line=$("$CLI" bench unet --random-weights --div 10 --layers 1 -W 64 -H 64 --tokens 16 --repeat 2 -t 2); rc=$?
check $rc "unet random reduced runs"
json_ok "unet random" "$line"
echo "$line" | grep -q '"workload":"unet"'; check $? "unet: workload key"
echo "$line" | grep -q '"repeats":2'; check $? "unet: --repeat honoured"
echo "$line" | grep -q '"threads":2'; check $? "unet: --threads honoured"
echo "$line" | grep -q '"precision":"bf16"'; check $? "unet: default precision bf16"
echo "$line" | grep -q '"shape":"2x4x8x8 tokens 16"'; check $? "unet: shape (batch 2 default, latent 8x8)"
echo "$line" | grep -q '"width_div":10'; check $? "unet: width divisor reported"
echo "$line" | grep -q '"scaled":false'; check $? "unet: a width-reduced run is not projected"

line=$("$CLI" bench text-encoder --layers 1 --tokens 8 --batch 2 -t 2 --precision fp32 --weights-dtype bf16); rc=$?
check $rc "text-encoder random 1 layer runs"
json_ok "text-encoder random" "$line"
echo "$line" | grep -q '"layers_run":1,"layers_total":28'; check $? "text-encoder: layers 1 of 28"
echo "$line" | grep -q '"scaled":true,"scale":28[,.]'; check $? "text-encoder: projected x28 ($line)"
echo "$line" | grep -q '"scaled_median_s":'; check $? "text-encoder: scaled_median_s"
echo "$line" | grep -q '"precision":"fp32"'; check $? "text-encoder: --precision fp32 honoured"
echo "$line" | grep -q '"dtype":"BF16"'; check $? "text-encoder: --weights-dtype bf16 honoured"

line=$("$CLI" bench vae-decode --random-weights --div 4 -W 64 -H 48 -t 2); rc=$?
check $rc "vae-decode random reduced runs"
json_ok "vae-decode random" "$line"
echo "$line" | grep -q '"shape":"1x4x6x8 -> 1x3x48x64"'; check $? "vae-decode: -W/-H map to the latent ($line)"
line=$("$CLI" bench vae-encode --random-weights --div 4 -W 128 -H 128 --tiling on --tile-size 8 -t 2); rc=$?
check $rc "vae-encode random reduced tiled runs"
json_ok "vae-encode random" "$line"
echo "$line" | grep -q '"shape":"1x3x128x128 -> 1x8x16x16 tiled"'; check $? "vae-encode: moments shape, tiled ($line)"

if [ ! -f "$MODEL/unet/config.json" ]; then
    echo "SKIP: $MODEL absent ($pass passed, $fail failed so far)"
    [ $fail -eq 0 ] && exit 77 || exit 1
fi
for w in unet text-encoder vae-decode vae-encode; do
    case $w in unet) extra="-W 64 -H 64 --tokens 16";; text-encoder) extra="--tokens 16";; *) extra="-W 64 -H 64";; esac
    line=$("$CLI" bench $w -m "$MODEL" $extra --repeat 3 --warmup 1 -t 2)
    check $? "$w -m tiny-kolors-a runs"
    json_ok "$w model" "$line"
    echo "$line" | grep -q '"weights":"model"'; check $? "$w: weights from the model"
    echo "$line" | grep -q '"warmup":1'; check $? "$w: warmup reported"
done
# the original layout (text encoder as .bin shards) and a reduced real model
line=$("$CLI" bench text-encoder -m "$ORIG" --tokens 16 --layers 2 -t 1); rc=$?
check $rc "text-encoder -m tiny-kolors-a-orig --layers 2 runs"
echo "$line" | grep -q '"layers_run":2,"layers_total":3,.*"scaled":true'; check $? "original layout: 2 of 3 layers, projected ($line)"
line=$("$CLI" bench unet -m "$MODEL" -W 64 -H 64 --tokens 16 --layers 1 -t 1); rc=$?
check $rc "unet -m --layers 1 runs"
echo "$line" | grep -q '"layers_run":11,"layers_total":17,.*"scaled":true'; check $? "unet tiny: depth capped 17 -> 11 blocks ($line)"

finish bench.sh
