# Shared by the device scripts (sourced): deadline arithmetic, a timeline, Dawn's warning filter.
# Set before sourcing: O (output folder), DEADLINE (seconds), MARKS (the file `mark` appends to).
START=$(date +%s)
# left N: seconds until the deadline (less a margin), capped at N (each step's own limit)
left() { local r=$(( START + DEADLINE - $(date +%s) - 5 )); [ "$r" -gt "$1" ] && r=$1; [ "$r" -lt 1 ] && r=1; echo "$r"; }
mark() { echo "t+$(( $(date +%s) - START ))s $*" >> "$MARKS"; }
quiet() { grep -v -E "artificially reduced|^Warning:" || true; }
timeout() { command timeout -k 10 "$@"; }  # a process that ignores SIGTERM cannot overrun
export CI=true
