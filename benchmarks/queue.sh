#!/bin/bash
# Train and evaluate a list of runs, one at a time on one CPU core; start one worker per core.
#
#   benchmarks/queue.sh JOBS OUT CORE      e.g.  benchmarks/queue.sh benchmarks/jobs/objectives-5epochs.txt $S 0 &
#                                                benchmarks/queue.sh benchmarks/jobs/objectives-5epochs.txt $S 1 &
#
# JOBS has one run per line: NAME and the arguments of `dcgan train` (dataset first). Workers claim
# jobs with mkdir (atomic), so any number can share one list and OUT; a worker stops when the list is
# done or OUT/STOP exists (after its current job). Each run goes to OUT/runs/NAME, its output to
# OUT/NAME.log (ending with /usr/bin/time's wall and user CPU seconds), then `dcgan evaluate` writes
# OUT/eval-NAME.json; OUT/queue.log says what ran where. benchmarks/queue_table.py makes the table.
# Pinning keeps two runs from trading places on two cores, so their ms/step are comparable. $DCGAN
# names the dcgan command (default: the one on PATH); DCGAN_DATA_DIR, as for dcgan, the data.
set -u
jobs=$(realpath "$1"); out=$2; core=$3
dcgan=${DCGAN:-dcgan}
mkdir -p "$out/runs"
cd "$out" || exit 1
while [ ! -e STOP ]; do
  job=""
  while read -r name args; do
    case "$name" in ""|\#*) continue ;; esac
    if mkdir "claim-$name" 2>/dev/null; then job=$name; train_args=$args; break; fi
  done < "$jobs"
  [ -z "$job" ] && exit 0
  echo "$(date -u +%FT%TZ) core $core start $job: $train_args" >> queue.log
  # shellcheck disable=SC2086  # the job's arguments are words
  taskset -c "$core" /usr/bin/time -f "%e s wall %U s user" "$dcgan" train $train_args --out "runs/$job" > "$job.log" 2>&1
  status=$?  # before $(date) below resets $?
  echo "$(date -u +%FT%TZ) core $core trained $job: exit $status" >> queue.log
  [ "$status" -eq 0 ] || continue
  taskset -c "$core" "$dcgan" evaluate --checkpoint "runs/$job" --json "eval-$job.json" > "eval-$job.txt" 2>&1
  status=$?
  echo "$(date -u +%FT%TZ) core $core evaluated $job: exit $status" >> queue.log
done
