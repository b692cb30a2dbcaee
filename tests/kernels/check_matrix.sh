# Runs on the host once the guest printed "matrix: done". Prints the result lines
# (bench/kernel_matrix.py reads them from `pants test` output); a failed check fails.
grep "^matrix: " "$CONSOLE" | tr -d '\r'
if grep -q "^matrix: [a-z0-9-]*: fail" "$CONSOLE"; then
	exit 1
fi
n=$(grep -c "^matrix: [a-z0-9-]*: \(pass\|not supported\)" "$CONSOLE")
[ "$n" -eq 9 ] || { echo "expected 9 check lines, got $n"; exit 1; }
