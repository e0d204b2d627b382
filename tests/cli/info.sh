#!/usr/bin/env bash
# kolors info on both official layouts (exit 0, verdict OK) and on damaged copies (exit 1 with a
# message that names the file and the problem; never a crash).
source "$(dirname "$0")/common.bash"
a=$MODEL
o=$ORIG
tmp=$TMP
[ -d "$a" ] || { echo "SKIP: $a not found (set KOLORS_TESTDATA)"; exit 77; }

out=$("$CLI" info -m "$a" 2>&1); rc=$?
[ $rc -eq 0 ]; check $? "diffusers layout exit 0"
grep -q "verdict: OK" <<<"$out"; check $? "diffusers layout verdict"
grep -q "layout: diffusers" <<<"$out"; check $? "diffusers layout names the layout"
out=$("$CLI" info -m "$o" 2>&1); rc=$?
[ $rc -eq 0 ]; check $? "original layout exit 0"
[ $(grep -c "pytorch_model-0000.-of-00002.bin" <<<"$out") -eq 2 ]; check $? "original layout lists both .bin shards"
out=$("$CLI" info -m "$o" --variant fp16 2>&1); rc=$?
[ $rc -eq 0 ]; check $? "fp16 variant exit 0"
grep -q "diffusion_pytorch_model.fp16.safetensors" <<<"$out"; check $? "fp16 variant file used"

# A copy whose U-Net weights are truncated: the file and the problem are named, exit 1.
mkdir -p "$tmp/m"
for d in model_index.json scheduler text_encoder tokenizer vae; do ln -s "$a/$d" "$tmp/m/$d"; done
mkdir -p "$tmp/m/unet"
cp "$a/unet/config.json" "$tmp/m/unet/"
head -c 1000000 "$a/unet/diffusion_pytorch_model.safetensors" > "$tmp/m/unet/diffusion_pytorch_model.safetensors"
out=$("$CLI" info -m "$tmp/m" 2>&1); rc=$?
[ $rc -eq 1 ]; check $? "truncated unet exit 1"
grep -q "diffusion_pytorch_model.safetensors.*truncated" <<<"$out"; check $? "truncated unet message"
grep -q "vae: 244 of 244" <<<"$out"; check $? "other components still reported"

# A U-Net config that implies other shapes: every mismatch is listed in one report.
sed 's/"cross_attention_dim": 32/"cross_attention_dim": 48/' "$a/unet/config.json" > "$tmp/m/unet/config.json"
ln -sf "$a/unet/diffusion_pytorch_model.safetensors" "$tmp/m/unet/diffusion_pytorch_model.safetensors"
out=$("$CLI" info -m "$tmp/m" 2>&1); rc=$?
[ $rc -eq 1 ]; check $? "shape mismatch exit 1"
grep -q "attn2.to_k.weight: found \[64, 32\], config implies \[64, 48\]" <<<"$out"; check $? "shape mismatch report"

out=$("$CLI" info -m "$tmp/nonexistent" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "not found" <<<"$out"; check $? "missing folder exit 1"
out=$("$CLI" info --bogus 2>&1); rc=$?
[ $rc -eq 2 ]; check $? "unknown flag exit 2"
"$CLI" info --help | grep -q -- "--model"; check $? "help documents --model"

finish
