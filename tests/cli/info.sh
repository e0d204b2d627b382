#!/usr/bin/env bash
# kolors info on both official layouts (exit 0, verdict OK) and on damaged copies (exit 1 with a
# message that names the file and the problem; never a crash).
set -u
cli=${KOLORS_CLI:?}
shared=${KOLORS_SHARED:-${KOLORS_SHARED_DEFAULT:-../shared}}
td=${KOLORS_TESTDATA:-$shared/testdata}
a=$td/models/tiny-kolors-a
o=$td/models/tiny-kolors-a-orig
[ -d "$a" ] || { echo "SKIP: $a not found (set KOLORS_TESTDATA)"; exit 77; }
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$("$cli" info -m "$a" 2>&1); rc=$?
check "diffusers layout exit 0" '[ $rc -eq 0 ]'
check "diffusers layout verdict" 'grep -q "verdict: OK" <<<"$out"'
check "diffusers layout names the layout" 'grep -q "layout: diffusers" <<<"$out"'
out=$("$cli" info -m "$o" 2>&1); rc=$?
check "original layout exit 0" '[ $rc -eq 0 ]'
check "original layout lists both .bin shards" '[ $(grep -c "pytorch_model-0000.-of-00002.bin" <<<"$out") -eq 2 ]'
out=$("$cli" info -m "$o" --variant fp16 2>&1); rc=$?
check "fp16 variant exit 0" '[ $rc -eq 0 ]'
check "fp16 variant file used" 'grep -q "diffusion_pytorch_model.fp16.safetensors" <<<"$out"'

# A copy whose U-Net weights are truncated: the file and the problem are named, exit 1.
mkdir -p "$tmp/m"
for d in model_index.json scheduler text_encoder tokenizer vae; do ln -s "$a/$d" "$tmp/m/$d"; done
mkdir -p "$tmp/m/unet"
cp "$a/unet/config.json" "$tmp/m/unet/"
head -c 1000000 "$a/unet/diffusion_pytorch_model.safetensors" > "$tmp/m/unet/diffusion_pytorch_model.safetensors"
out=$("$cli" info -m "$tmp/m" 2>&1); rc=$?
check "truncated unet exit 1" '[ $rc -eq 1 ]'
check "truncated unet message" 'grep -q "diffusion_pytorch_model.safetensors.*truncated" <<<"$out"'
check "other components still reported" 'grep -q "vae: 244 of 244" <<<"$out"'

# A U-Net config that implies other shapes: every mismatch is listed in one report.
sed 's/"cross_attention_dim": 32/"cross_attention_dim": 48/' "$a/unet/config.json" > "$tmp/m/unet/config.json"
ln -sf "$a/unet/diffusion_pytorch_model.safetensors" "$tmp/m/unet/diffusion_pytorch_model.safetensors"
out=$("$cli" info -m "$tmp/m" 2>&1); rc=$?
check "shape mismatch exit 1" '[ $rc -eq 1 ]'
check "shape mismatch report" 'grep -q "attn2.to_k.weight: found \[64, 32\], config implies \[64, 48\]" <<<"$out"'

out=$("$cli" info -m "$tmp/nonexistent" 2>&1); rc=$?
check "missing folder exit 1" '[ $rc -eq 1 ] && grep -q "not found" <<<"$out"'
out=$("$cli" info --bogus 2>&1); rc=$?
check "unknown flag exit 2" '[ $rc -eq 2 ]'
"$cli" info --help | grep -q -- "--model" ; check "help documents --model" '[ $? -eq 0 ]'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
