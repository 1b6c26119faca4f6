#!/bin/bash
# No cycle between the daemon's modules (tests/layers.sh: nm of the
# objects, each undefined symbol resolved to the module defining it); the
# modules, what each calls and the layers found are printed as comments.
# The graph is the same in every build of the sources: runs once, in the
# first build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all

bash "$(dirname "$0")/layers.sh" "$(dirname "$BIN")" > "$T/out" 2>&1
report layers.sh "$T/out"
done_testing
