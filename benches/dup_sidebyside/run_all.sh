#!/bin/bash
# Near duplicates side by side (BENCHMARKS.md, issue 16): recipe_audit, imagehash, imagededup,
# cleanvision and fastdup on the held-out photographs of a dup_corpus (CORPUS, default /tmp/dh19,
# made by `python benches/dup_heldout.py --seed 19 --dir /tmp/dh19`), one after another, each in its
# own interpreter; groups and logs under WORK (default /tmp/sbs). Then: python score.py.
# Interpreters: /tmp/iddvenv (imagededup --no-deps), /tmp/cv (cleanvision 0.3.7), /tmp/fdvenv (fastdup 2.54).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
export CORPUS=${CORPUS:-/tmp/dh19} WORK=${WORK:-/tmp/sbs}
mkdir -p "$WORK" && cd "$HERE"
L=$WORK/logs${SUFFIX}; mkdir -p $L
python -c "import common; common.make_dir()"   # flat copy for folder-based tools
/usr/bin/time -f "process wall %e s" env PYTHONPATH=/work/main/python python run_recipe_audit.py > $L/recipe_audit.log 2>&1
/usr/bin/time -f "process wall %e s" python run_imagehash.py > $L/imagehash.log 2>&1
/usr/bin/time -f "process wall %e s" /tmp/iddvenv/bin/python run_imagededup.py > $L/imagededup.log 2>&1
/usr/bin/time -f "process wall %e s" /tmp/cv/bin/python run_cleanvision.py > $L/cleanvision.log 2>&1
/usr/bin/time -f "process wall %e s" /tmp/fdvenv/bin/python run_fastdup.py > $L/fastdup.log 2>&1
