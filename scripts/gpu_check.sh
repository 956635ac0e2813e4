#!/usr/bin/env bash
# The whole GPU job, for one call of the `device` tool (15 minutes of device time a session; its timeouts add up to
# 8.5 minutes, an upper bound: it has never run, so how long it takes is not known):
#   run(command="bash scripts/gpu_check.sh", carry=[".whl"], timeout_s=540)
# after `bash scripts/gpu_wheels.sh` here. Writes under $OUT (or out-gpu/): the GPU tests' log, the pixel checks
# of float16/bfloat16 and CUDA graphs against float32, and the benchmark (eager, and with CUDA graphs) as JSON and
# Markdown, which docs/benchmarks.md then quotes with the card named.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/card.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/card.txt"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/app/test_cuda_graphs.py tests/models/test_graphs.py \
    2>&1 | tee "$OUT/tests.log"
for option in "--precision float16" "--precision bfloat16" "--cuda-graphs"; do
    echo "== --pixels $option"
    timeout 40 python3 -m bench --pixels --device cuda $option
done 2>&1 | tee "$OUT/pixels.txt"
timeout 150 python3 -m bench --device cuda --seconds 2 --workers 1 --models dcgan-mnist \
    --json "$OUT/bench-cuda.json" --markdown "$OUT/bench-cuda.md" 2>&1 | tail -40
timeout 150 python3 -m bench --device cuda --seconds 2 --workers 1 --models dcgan-mnist --cuda-graphs \
    --json "$OUT/bench-cuda-graphs.json" --markdown "$OUT/bench-cuda-graphs.md" 2>&1 | tail -40
