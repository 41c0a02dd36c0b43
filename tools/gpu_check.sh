#!/usr/bin/env bash
# The GPU check of issue 11, prepared to run on one lent CUDA GPU within about 15 minutes of device time.
#
#   tools/gpu_check.sh wheels              on THIS machine first: the wheels the GPU image lacks, into .whl/
#   tools/gpu_check.sh bench               the GPU figures: python -m clipviz.bench.gpu   (~5 min on an H100)
#   tools/gpu_check.sh tests chapter04     the GPU tests and test_train.py (~1 min); chapter 04 headless (~2 min)
#   tools/gpu_check.sh all                 bench, tests, chapter04 in one go (may pass a 10-minute call limit)
#   tools/gpu_check.sh full-bench          python -m clipviz bench --device cuda: every figure (not in "all")
#
# With the device tool: run `tools/gpu_check.sh wheels` here, then two calls back to back (the machine stays
# warm between them), each with carry [".whl"]:
#   run(command="tools/gpu_check.sh bench", timeout_s=480, carry=[".whl"])
#   run(command="tools/gpu_check.sh tests chapter04", timeout_s=360, carry=[".whl"])
# Results go to $OUT (or gpu_check_out/): gpu.txt (card, driver, CPU), bench_gpu.json and bench_gpu.log,
# tests.log, chapter04.ipynb (executed) and chapter04.log, summary.txt. Each part has its own timeout, a
# failing part does not stop the next, and the exit status is the number of parts that failed.
# Chapter 04 runs in full mode (CLIPVIZ_FAST unset); CLIPVIZ_FAST=1 tools/gpu_check.sh chapter04 runs it short.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PY:-python3}
failed=0

# What clipviz, its tests and a headless notebook need beyond the GPU image's packages (see
# /work/.library/device/KINDS.md): open_clip, UMAP, plotly, the widgets and a Jupyter kernel.
WHEELS="open_clip_torch ftfy wcwidth umap-learn pynndescent plotly anywidget psygnal ipywidgets comm traitlets
widgetsnbextension jupyterlab_widgets ipython ipython_pygments_lexers decorator jedi parso matplotlib-inline pexpect
ptyprocess prompt_toolkit stack_data executing asttokens pure_eval nbclient nbformat fastjsonschema jsonschema
jsonschema-specifications referencing rpds-py jupyter_client jupyter_core platformdirs ipykernel debugpy
nest_asyncio nest-asyncio2 pyzmq tornado"

wheels() {  # here, with pip and the network: Python 3.12 x86-64 wheels for the GPU image
    echo /.whl/ >> .git/info/exclude
    mkdir -p .whl
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl $WHEELS && du -sh .whl
}

setup() {  # there: install the carried wheels (if any) beside the image's packages; name the card
    if ls .whl/*.whl > /dev/null 2>&1 && ! "$PY" -c "import open_clip, nbclient, ipywidgets" 2> /dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
    fi
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
      lscpu | grep 'Model name'
      "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
    } > "$OUT/gpu.txt" 2>&1
    cat "$OUT/gpu.txt"
}

part() {  # part NAME SECONDS COMMAND...: run one part under a timeout, log it, count a failure
    local name=$1 seconds=$2 start rc
    shift 2
    start=$(date +%s)
    timeout "$seconds" "$@" 2>&1 | tee "$OUT/$name.log"
    rc=${PIPESTATUS[0]}
    echo "$name: exit $rc in $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

CHAPTER04=$(mktemp --suffix=.py)  # chapter 04 headless: nbclient runs it top to bottom in a fresh kernel
cat > "$CHAPTER04" <<'EOF'
import os, shutil, sys, tempfile, time
import nbformat
from nbclient import NotebookClient

out = sys.argv[1]
nb = nbformat.read("notebooks/04_train_mini_clip.ipynb", as_version=4)
work = tempfile.mkdtemp(prefix="chapter04-")  # the chapter saves my_mini_clip.pt where it runs
start = time.perf_counter()
try:
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}).execute()
finally:
    nbformat.write(nb, os.path.join(out, "chapter04.ipynb"))
    shutil.rmtree(work, ignore_errors=True)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout":
                print(output["text"], end="")
print(f"chapter 04 ran headless in {time.perf_counter() - start:.1f} s (CLIPVIZ_FAST={os.environ.get('CLIPVIZ_FAST', '')!r})")
EOF

parts=()
for what in "${@:-all}"; do
    case $what in
        all) parts+=(bench tests chapter04) ;;
        *) parts+=("$what") ;;
    esac
done
case " ${parts[*]} " in *" bench "*|*" tests "*|*" chapter04 "*|*" full-bench "*) setup ;; esac
for each in "${parts[@]}"; do
    case $each in
        wheels) wheels || failed=$((failed + 1)) ;;
        bench) part bench_gpu 450 "$PY" -m clipviz.bench.gpu --json "$OUT/bench_gpu.json" ;;
        full-bench) part full_bench 590 "$PY" -m clipviz bench --device cuda --json "$OUT/full_bench.json" ;;
        tests) part tests 240 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu_path.py tests/test_train.py ;;
        chapter04) part chapter04 300 "$PY" "$CHAPTER04" "$OUT" ;;
        *) echo "unknown part '$each': choose wheels, bench, tests, chapter04, all or full-bench" >&2
           failed=$((failed + 1)) ;;
    esac
done
rm -f "$CHAPTER04"
exit "$failed"
