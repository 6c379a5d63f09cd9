import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_layers_quick_writes_its_section(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nkept\n")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_layers.py"), "--quick", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    text = out.read_text()
    assert "kept" in text and "<!-- bench_layers:start -->" in text
    assert "| nanonet |" in text and "GEMM bound" in text
