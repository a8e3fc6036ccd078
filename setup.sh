#!/usr/bin/env bash
# treadle's one entry point: set up a Debian 12 machine, build, install, then run something.
#
#   ./setup.sh tour    set up, then execute the tour notebook (the main job)
#   ./setup.sh test    set up, then run every test (what CI runs)
#   ./setup.sh build   set up only
#   ./setup.sh bench   set up, then run the benchmarks
#
# Idempotent: apt packages are installed only when missing, the build is incremental.
# Everything is installed into ./prefix inside the checkout.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
PREFIX=$ROOT/prefix
BUILD=$ROOT/build
PY=/usr/bin/python3   # Debian's interpreter: the apt packages live there, not in the one on PATH

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libzmq3-dev cppzmq-dev nlohmann-json3-dev pybind11-dev catch2
  libsodium-dev                                 # CURVE keys derived from the secret
  python3 python3-dev python3-cloudpickle python3-pytest python3-psutil python3-zmq
  python3-nbclient python3-nbformat python3-ipykernel jupyter-client
  python3-jinja2                                # the Client's notebook repr (a template)
  python3-cbor2                                 # Rain's "cbor" content type
  xeus-dev xeus-python-dev python3-xeus-python-shell xtl-dev
  python3-jupyter-kernel-test jupyter-notebook
  jupyter-console python3-pexpect               # tests/kernel: exit and quit in a real jupyter console
  iproute2 procps openssh-server
  graphviz                                      # `dot` lays out the task-graph widget
  python3-ipyparallel                           # bench/: the load-balanced view beside the IPython layer
  python3-matplotlib                            # bench/sim_bench.py: the scheduler simulator's plots
  chromium chromium-driver python3-selenium     # tests/browser: the widgets in a real (headless) browser
  munge slurm-wlm slurmctld slurmd slurm-client # tests/batch: a private one-node SLURM cluster
  gridengine-master gridengine-exec gridengine-client   # tests/batch: a one-node Grid Engine cell
  libslurm-perl libslurmdb-perl libswitch-perl  # tests/batch: SLURM's PBS wrappers (torque_wrappers below)
)
# Only `./setup.sh bench` needs these: the peers measured beside treadle (`--peers`).
BENCH_PACKAGES=(
  python3-distributed                           # bench/peers_dask.py: Dask distributed 2022.12
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  say "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  # Grid Engine's packages ask for the master host and cell: answer before they ask.
  printf '%s\n' "gridengine-common shared/gridenginemaster string $(hostname)" \
    "gridengine-common shared/gridenginecell string default" \
    "gridengine-common shared/gridengineconfig boolean true" | $sudo debconf-set-selections
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# SLURM's PBS commands (qsub, qstat, qdel over SLURM) test treadle-cluster's PBS path. Their
# package, slurm-wlm-torque, conflicts with gridengine-client (both own /usr/bin/qsub), so its
# scripts are unpacked into the build folder instead; they call sbatch & co. from their own
# folder, hence the links.
torque_wrappers() {
  local dir=$BUILD/torque-wrappers
  [ -x "$dir/qsub" ] && return
  say "unpacking SLURM's PBS wrappers into $dir"
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp"   # apt downloads as _apt
  (cd "$tmp" && apt-get download -q slurm-wlm-torque > /dev/null && dpkg-deb -x slurm-wlm-torque_*.deb root)
  mkdir -p "$dir"
  for p in qsub qstat qdel; do cp "$tmp/root/usr/bin/$p" "$dir/$p"; done
  for p in sbatch salloc srun scancel squeue scontrol; do ln -sf "/usr/bin/$p" "$dir/$p"; done
  rm -rf "$tmp"
}

build() {
  say "building into $BUILD, installing into $PREFIX"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPython_EXECUTABLE=$PY -DCMAKE_INSTALL_PREFIX="$PREFIX" > "$BUILD/configure.log" 2>&1 \
    || { cat "$BUILD/configure.log"; exit 1; }
  cmake --build "$BUILD"
  cmake --install "$BUILD" > /dev/null
}

environment() {
  export PATH="$PREFIX/bin:$PATH"
  export PYTHONPATH="$PREFIX/lib/treadle/python${PYTHONPATH:+:$PYTHONPATH}"
  # The treadle kernelspec (share/jupyter/kernels/treadle) for jupyter, nbclient and nbconvert.
  export JUPYTER_PATH="$PREFIX/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
}

setup() {
  install_packages "$@"
  mkdir -p "$BUILD"
  torque_wrappers
  build
  environment
}

run_tour() {
  say "executing notebooks/tour.ipynb"
  $PY "$ROOT/tests/run_notebook.py" "$ROOT/notebooks/tour.ipynb" "$BUILD/notebooks/tour.ipynb" --show
}

run_tests() {
  say "C++ unit tests"
  (cd "$BUILD" && ctest --output-on-failure)
  say "end-to-end tests"
  $PY -m pytest -q "$ROOT/tests" -p no:cacheprovider
}

case "${1:-}" in
  tour) setup; run_tour ;;
  test) setup; run_tests ;;
  build) setup ;;
  bench) setup "${BENCH_PACKAGES[@]}"; $PY "$ROOT/bench/run.py" "${@:2}" ;;
  *) echo "usage: ./setup.sh tour|test|build|bench" >&2; exit 2 ;;
esac
