# common.bash — sourced by the tests/cli/*.sh shell tests (ctest registers only *.sh, so this
# file is not a test): the built CLI, the shared test data and its tiny models, a temporary
# folder removed on exit, and the pass/fail counting every script reports with.
set -u
CLI=${KOLORS_CLI:?KOLORS_CLI not set}
SHARED=${KOLORS_SHARED:-${KOLORS_SHARED_DEFAULT:-}}
TD=${KOLORS_TESTDATA:-$SHARED/testdata}
MODEL=$TD/models/tiny-kolors-a
ORIG=$TD/models/tiny-kolors-a-orig
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
pass=0
# check STATUS WHAT: STATUS 0 counts as a pass, anything else as a failure printed with WHAT.
check() { if [ "$1" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $2"; fi; }
# finish [NAME]: the summary line; the exit status is 0 only when nothing failed.
finish() { echo "${1:+$1: }$pass passed, $fail failed"; [ $fail -eq 0 ]; }
