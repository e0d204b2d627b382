#!/usr/bin/env bash
# tokenize.sh — `kolors tokenize` on tiny-kolors-a (the real ChatGLM3 tokenizer.model): known ids
# from kolors-model.md §2.3/§2.4, plain and --jsonl input, CR LF, a last line without newline,
# --max-length, the stderr note for a truncated prompt, and refusals (invalid UTF-8 with its line
# number, bad JSON, bad flags).
source "$(dirname "$0")/common.bash"
if [ ! -f "$MODEL/tokenizer/tokenizer.model" ]; then echo "SKIP: $MODEL not found"; exit 77; fi
tok() { "$CLI" tokenize -m "$MODEL" "$@"; }
# the real-token tail of input_ids of output line $1 (n_tokens ids before the closing bracket)
ids_of() { sed -n "${1}p" "$TMP/out" | sed 's/.*"input_ids":\[\([^]]*\)\].*/\1/'; }

out=$("$CLI" tokenize --help); rc=$?
check $rc "--help exits 0"
for flag in -m --max-length --jsonl --help; do
    echo "$out" | grep -q -- "$flag"; check $? "--help documents $flag"
done

# Plain lines: a prompt, the empty prompt, a CR LF line, and a last line without newline.
printf 'a photo of a cat\n\nhello world\r\n12345' | tok >"$TMP/out" 2>"$TMP/err"; rc=$?
check $rc "plain input exits 0 ($(cat "$TMP/err"))"
[ "$(wc -l <"$TMP/out")" -eq 4 ]; check $? "one output line per input line (4)"
ids_of 1 | grep -q ',0,64790,64792,260,4562,290,260,4577$'; check $? "'a photo of a cat' ids (§2.4)"
sed -n 1p "$TMP/out" | grep -q '"n_tokens":7,"truncated":false}$'; check $? "n_tokens 7"
sed -n 1p "$TMP/out" | grep -q '"attention_mask":\[0,[0,]*1,1,1,1,1,1,1\]'; check $? "attention_mask 0..0 then 7 ones"
sed -n 1p "$TMP/out" | grep -q '"position_ids":\[0,[0,]*0,1,2,3,4,5,6\]'; check $? "position_ids 0..0 then 0..6"
[ "$(ids_of 1 | tr ',' '\n' | wc -l)" -eq 256 ]; check $? "256 ids by default"
ids_of 2 | grep -q '^0,\(0,\)*64790,64792$'; check $? "empty line = empty prompt (n=2)"
sed -n 2p "$TMP/out" | grep -q '"n_tokens":2,'; check $? "empty prompt n_tokens 2"
ids_of 3 | grep -q ',0,64790,64792,24954,993$'; check $? "CR LF dropped: 'hello world' = 24954 993"
ids_of 4 | grep -q ',0,64790,64792,30910,30939,30943,30966,30972,30970$'; check $? "last line without newline"
[ ! -s "$TMP/err" ]; check $? "nothing on stderr"

# --jsonl: escapes for tab and newline; trailing CR tolerated.
printf '"tab\\tx"\n"\\n"\r\n  "a"  \n' | tok --jsonl >"$TMP/out" 2>"$TMP/err"; rc=$?
check $rc "--jsonl exits 0 ($(cat "$TMP/err"))"
ids_of 1 | grep -q ',0,64790,64792,9151,12,30948$'; check $? "--jsonl 'tab\\tx' = 9151 12 30948"
ids_of 2 | grep -q ',0,64790,64792,30910,13$'; check $? "--jsonl '\\n' = 30910 13"
ids_of 3 | grep -q ',0,64790,64792,260$'; check $? "--jsonl with surrounding spaces"
# golden cases 114 (embedded NUL via \u0000) and 66 (CR LF inside the prompt)
printf '"null\\u0000char"\n"windows\\r\\nnewline"\n"a\\\\u0000"\n' | tok --jsonl >"$TMP/out" 2>"$TMP/err"; rc=$?
check $rc "--jsonl NUL/CR escapes exit 0 ($(cat "$TMP/err"))"
ids_of 1 | grep -q ',0,64790,64792,4346,3,8960$'; check $? "--jsonl '\\u0000' is a NUL byte (golden 114)"
ids_of 2 | grep -q ',0,64790,64792,7477,31025,13,1704,1131$'; check $? "--jsonl CR LF inside a prompt (golden 66)"
[ "$(ids_of 3 | tr ',' '\n' | grep -c -v '^0$')" -gt 3 ]; check $? "--jsonl escaped backslash before u0000 is text"

# All 200 upstream goldens through --jsonl (needs python3 to write/compare the JSON; skipped without).
GOLD=${KOLORS_TESTDATA:-$SHARED/testdata}/tokenizer/tokenizer_cases.json
if command -v python3 >/dev/null && [ -f "$GOLD" ]; then
    python3 - "$CLI" "$MODEL" "$GOLD" <<'PY'
import json, subprocess, sys
cli, model, gold = sys.argv[1:4]
cases = json.load(open(gold))["cases"]
inp = "".join(json.dumps(c["prompt"]) + "\n" for c in cases).encode()
r = subprocess.run([cli, "tokenize", "-m", model, "--jsonl"], input=inp, capture_output=True)
lines = r.stdout.decode().splitlines()
bad = [c["id"] for c, l in zip(cases, lines)
       if (lambda o: (o["input_ids"], o["attention_mask"], o["position_ids"], o["n_tokens"], o["truncated"]))(json.loads(l))
       != (c["input_ids"], c["attention_mask"], c["position_ids"], c["num_tokens"], c["truncated"])]
notes = r.stderr.decode().count("prompt truncated")
print("goldens via CLI: %d lines, %d mismatches %s, %d truncation notes" % (len(lines), len(bad), bad[:10], notes))
sys.exit(0 if r.returncode == 0 and len(lines) == len(cases) and not bad and notes == sum(c["truncated"] for c in cases) else 1)
PY
    check $? "all goldens exact through the CLI"
else
    echo "note: python3 or $GOLD absent, the 200-golden CLI comparison is skipped (test_tokenizer covers them)"
fi

# --max-length
echo "a photo of a cat" | tok --max-length 8 >"$TMP/out"; rc=$?
check $rc "--max-length 8 exits 0"
[ "$(ids_of 1)" = "0,64790,64792,260,4562,290,260,4577" ]; check $? "--max-length 8: one pad + 7 tokens"

# Over-long prompt ("word " x 300 = 300 "▁word" + a final "▁" = 303 tokens with the prefix):
# truncated to 256 with a note on stderr naming the line.
long=$(for i in $(seq 300); do printf 'word '; done)
printf 'short\n%s\n' "$long" | tok >"$TMP/out" 2>"$TMP/err"; rc=$?
check $rc "over-long prompt exits 0"
sed -n 2p "$TMP/out" | grep -q '"n_tokens":256,"truncated":true}$'; check $? "over-long: n_tokens 256, truncated"
grep -q 'line 2: prompt truncated from 303 to 256 tokens' "$TMP/err"; check $? "stderr note: $(cat "$TMP/err")"
[ "$(grep -c truncated "$TMP/err")" -eq 1 ]; check $? "only the truncated line is reported"
ids_of 2 | grep -q '^64790,64792,'; check $? "over-long: no padding"

# Refusals: invalid UTF-8 (line number, byte offset, exit 1), bad JSON, bad flags.
printf 'fine\nbad \xff byte\nnot reached\n' | tok >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -ne 0 ] && grep -q 'line 2' "$TMP/err" && grep -q 'UTF-8' "$TMP/err" && grep -q 'byte offset 4' "$TMP/err"
check $? "invalid UTF-8 refused with line 2 and byte offset (rc=$rc: $(cat "$TMP/err"))"
[ "$(wc -l <"$TMP/out")" -eq 1 ]; check $? "lines before the bad one were written"
printf '"ok"\nnot json\n' | tok --jsonl >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -ne 0 ] && grep -q 'line 2' "$TMP/err"; check $? "--jsonl non-string refused (rc=$rc: $(cat "$TMP/err"))"
printf '["a"]\n' | tok --jsonl >/dev/null 2>&1; [ $? -ne 0 ]; check $? "--jsonl array refused"
printf '"a" x\n' | tok --jsonl >/dev/null 2>&1; [ $? -ne 0 ]; check $? "--jsonl trailing garbage refused"
for bad in 1 4097 abc -5 ""; do
    err=$(echo a | tok --max-length "$bad" 2>&1); rc=$?
    [ $rc -ne 0 ] && echo "$err" | grep -q -- "--max-length"; check $? "--max-length '$bad' refused ($err)"
done
echo a | tok --bogus >/dev/null 2>&1; [ $? -ne 0 ]; check $? "unknown option refused"
err=$(echo a | "$CLI" tokenize -m "$TMP/nowhere" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q nowhere; check $? "missing model folder named ($err)"

# Throughput of the whole command (model open + 2000 prompts + JSON output).
for i in $(seq 2000); do echo "a breathtaking landscape, 一张瓢虫的照片, snow-capped mountains $i"; done >"$TMP/many"
start=$(date +%s.%N)
tok <"$TMP/many" >"$TMP/out"; rc=$?
end=$(date +%s.%N)
check $rc "2000 prompts exit 0"
[ "$(wc -l <"$TMP/out")" -eq 2000 ]; check $? "2000 output lines"
echo "speed: 2000 prompts in $(awk "BEGIN{printf \"%.3f\", $end - $start}") s (CLI end to end)"

# A stdin line without end (9 MB, no newline) is refused with its line number, not read without bound.
head -c 9000000 /dev/zero | tr '\0' a | "$CLI" tokenize -m "$MODEL" >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "stdin line 1 is longer than 8 MiB" "$TMP/err"; check $? "over-long stdin line refused ($(cat "$TMP/err"))"

finish
