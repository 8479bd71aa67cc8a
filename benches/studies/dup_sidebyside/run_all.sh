#!/bin/bash
# Near duplicates side by side (BENCHMARKS.md, issue 16): recipe_audit, imagehash, imagededup,
# cleanvision and fastdup on the held-out photographs of a dup_corpus (CORPUS, default /tmp/dh19,
# made by `python -m benches.studies.dup_heldout --seed 19 --dir /tmp/dh19`), one after another, each in
# its own interpreter; groups and logs under WORK (default /tmp/sbs). Then, from the repository root:
# python -m benches.studies.dup_sidebyside.score.
# Interpreters: /tmp/iddvenv (imagededup --no-deps), /tmp/cv (cleanvision 0.3.7), /tmp/fdvenv (fastdup 2.54).
set -e
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)  # modules run from the repository root
export CORPUS=${CORPUS:-/tmp/dh19} WORK=${WORK:-/tmp/sbs}
mkdir -p "$WORK" && cd "$ROOT"
L=$WORK/logs${SUFFIX}; mkdir -p $L
python -c "from benches.studies.dup_sidebyside import common; common.make_dir()"   # flat copy for folder-based tools
/usr/bin/time -f "process wall %e s" python -m benches.studies.dup_sidebyside.run_recipe_audit > $L/recipe_audit.log 2>&1
/usr/bin/time -f "process wall %e s" python -m benches.studies.dup_sidebyside.run_imagehash > $L/imagehash.log 2>&1
/usr/bin/time -f "process wall %e s" /tmp/iddvenv/bin/python -m benches.studies.dup_sidebyside.run_imagededup > $L/imagededup.log 2>&1
/usr/bin/time -f "process wall %e s" /tmp/cv/bin/python -m benches.studies.dup_sidebyside.run_cleanvision > $L/cleanvision.log 2>&1
/usr/bin/time -f "process wall %e s" /tmp/fdvenv/bin/python -m benches.studies.dup_sidebyside.run_fastdup > $L/fastdup.log 2>&1
