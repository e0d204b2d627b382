#!/usr/bin/env bash
# generate.sh — `kolors generate` on the embedded demo model (no -m): PNG written with the A1111
# "parameters" chunk, deterministic for a seed, random seed printed when omitted, batch naming
# ("%d" and auto-numbering), --save-latent, --help documents every flag, and bad flags refused with
# a message naming the flag and a non-zero exit before any work.
source "$(dirname "$0")/common.bash"
SRC=${KOLORS_SOURCE_DIR:?KOLORS_SOURCE_DIR not set}
[ -f "$SRC/models/demo/model_index.json" ] || { echo "SKIP: no demo model at $SRC/models/demo"; exit 77; }
unset KOLORS_MODEL
G=("$CLI" generate -W 64 -H 64 --steps 2 -t 2)

# --help documents every flag
out=$("$CLI" generate --help); check $? "--help exits 0"
for f in -m --model -p --prompt -n --negative-prompt -W --width -H --height --steps --cfg-scale -s --seed \
         --sampling-method --scheduler -i --init-img --strength -b --batch-count -t --threads -o --output -v \
         --init-noise --save-latent --precision --vae-tiling --vae-tile-size --vae-tile-stats; do
    echo "$out" | grep -q -- " $f\b"; check $? "--help documents $f"
done

# demo model end to end, run from another folder (the demo path is compiled in)
(cd "$TMP" && "${G[@]}" -p "a red apple on a wooden table" -s 7 -o a.png --save-latent a.safetensors >out.txt 2>err.txt)
rc=$?; check $rc "demo run exits 0 ($(cat "$TMP/err.txt"))"
[ -s "$TMP/a.png" ] && [ -s "$TMP/a.safetensors" ]; check $? "PNG and latents written"
grep -aq "parameters" "$TMP/a.png" && grep -aq "Steps: 2, Sampler: Euler, CFG scale: 5, Seed: 7, Size: 64x64" "$TMP/a.png"
check $? "PNG has the A1111 parameters chunk"
grep -q "seed 7" "$TMP/out.txt"; check $? "the seed is printed"
grep -q "step 2/2" "$TMP/err.txt"; check $? "plain progress lines on a non-terminal stderr"
"${G[@]}" -p "a red apple on a wooden table" -s 7 -o "$TMP/b.png" >/dev/null 2>&1
cmp -s "$TMP/a.png" "$TMP/b.png"; check $? "same seed, same PNG"
"${G[@]}" -p "a red apple on a wooden table" -s 8 -o "$TMP/c.png" >/dev/null 2>&1
! cmp -s "$TMP/a.png" "$TMP/c.png"; check $? "another seed, another PNG"
out=$("${G[@]}" -p "x" -o "$TMP/r.png" 2>/dev/null); check $? "random seed run"
echo "$out" | grep -Eq "seed [0-9]+"; check $? "random seed printed: $out"

# VAE tiling on request: a 128x128 image decoded in 8x8-latent tiles
"${G[@]}" -p "cat" -s 3 -W 128 -H 128 --vae-tiling --vae-tile-size 8 -o "$TMP/tiled.png" >/dev/null 2>&1
check $? "--vae-tiling run"

# batches: %d and auto-numbering; seeds S, S+1
"${G[@]}" -p "cat" -s 3 -b 2 -o "$TMP/d_%d.png" >/dev/null 2>&1; check $? "batch with %d"
[ -s "$TMP/d_1.png" ] && [ -s "$TMP/d_2.png" ]; check $? "d_1.png and d_2.png written"
"${G[@]}" -p "cat" -s 4 -o "$TMP/s4.png" >/dev/null 2>&1
cmp -s "$TMP/d_2.png" "$TMP/s4.png"; check $? "second image of a batch uses seed+1"
"${G[@]}" -p "cat" -s 3 -b 2 -o "$TMP/e.png" >/dev/null 2>&1; check $? "batch auto-numbering"
[ -s "$TMP/e.png" ] && [ -s "$TMP/e_2.png" ]; check $? "e.png and e_2.png written"

# img2img from the demo's own output
"${G[@]}" -p "cat" -s 3 -i "$TMP/a.png" --strength 0.5 --steps 4 -o "$TMP/i.png" >/dev/null 2>&1
check $? "img2img run"

"${G[@]}" -p "cat" -s 3 -i "$TMP/a.png" --strength 0.5 --steps 4 -W 128 -H 96 -o "$TMP/j.png" >"$TMP/j.txt" 2>&1
check $? "img2img with the init image resized to 128x96"
grep -q "128x96" "$TMP/j.txt"; check $? "img2img output size follows -W/-H"

# refusals: non-zero exit, a message naming the flag, no output written
refuse() { # refuse NEEDLE ARGS...
    local needle=$1; shift
    err=$("$CLI" generate -o "$TMP/bad.png" "$@" 2>&1 >/dev/null); rc=$?
    [ $rc -ne 0 ] && echo "$err" | grep -qi -- "$needle" && [ ! -e "$TMP/bad.png" ]
    check $? "refused ($needle) for: $* (rc=$rc: $err)"
}
refuse "prompt" -W 64 -H 64
refuse "multiples of 8" -p x -W 100 -H 64
refuse -- "--width" -p x -W abc
refuse -- "--height" -p x -H 99999
refuse -- "--steps" -p x --steps 0
refuse -- "--steps" -p x --steps 100000
refuse -- "--cfg-scale" -p x --cfg-scale nan
refuse -- "--cfg-scale" -p x --cfg-scale -3
refuse -- "--seed" -p x -s -1
refuse -- "--sampling-method" -p x --sampling-method bogus
refuse -- "--scheduler" -p x --scheduler bogus
refuse "karras" -p x -W 64 -H 64 --sampling-method ddim --scheduler karras
refuse -- "--strength" -p x --strength 0.5
refuse -- "--strength" -p x -i "$TMP/a.png" --strength 2
refuse "0 denoising steps" -p x -i "$TMP/a.png" --strength 0.1 --steps 3
refuse -- "-i" -p x -i "$TMP/missing.png"
refuse -- "--init-noise" -p x -W 64 -H 64 --init-noise "$TMP/missing.safetensors"
refuse -- "--init-noise" -p x -W 128 -H 64 --init-noise "$TMP/a.safetensors"
refuse -- "--precision" -p x --precision fp8
refuse -- "--vae-tile-size" -p x --vae-tile-size 2
refuse -- "--vae-tile-stats" -p x --vae-tile-stats some
refuse -- "--batch-count" -p x -b 0
refuse "unknown option" -p x --bogus
refuse "is a folder" -p x -W 64 -H 64 -o "$TMP"
refuse "empty" -p x -W 64 -H 64 -o ""
refuse "between 64 and 4096" -p x -W 16384 -H 64
refuse "between 64 and 4096" -p x -W 56 -H 64
refuse "between 1 and" -p x -t 0
err=$("${G[@]}" -p x -o "$TMP/no/such/dir/x.png" 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q "does not exist" && ! echo "$err" | grep -q "step"
check $? "missing output folder refused before any work (rc=$rc: $err)"
err=$("${G[@]}" -p x -o "$TMP/ok.png" --save-latent "$TMP/nope/l.safetensors" 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q -- "--save-latent" && [ ! -e "$TMP/ok.png" ]
check $? "missing --save-latent folder refused before any work (rc=$rc: $err)"
refuse "needs a value" -p
refuse "model" -p x -W 64 -H 64 -m "$TMP/no-such-model"
# a model without VAE weights: refused before the text encoder and the U-Net run
mkdir -p "$TMP/novae/vae"
for x in model_index.json text_encoder tokenizer unet scheduler; do ln -s "$SRC/models/demo/$x" "$TMP/novae/$x"; done
cp "$SRC/models/demo/vae/config.json" "$TMP/novae/vae/"
refuse "no weights file" -p x -W 64 -H 64 -m "$TMP/novae"
echo "$err" | grep -q "step"; [ $? -ne 0 ]; check $? "no denoising step ran before the VAE was found missing"

finish
