"""Writes the seed corpora of the fuzz targets (crates/zoo-fuzz/corpus/<target>/): tiny valid
files of every format each reader takes, and the hostile cases the readers must refuse.

Run once from the repository root: python3 crates/zoo-fuzz/make_corpus.py [RUN_DIR]
(RUN_DIR: a finished `zoo train` run whose model.bpk and config.json seed those targets).
Needs torch, safetensors and Pillow for the weights and image seeds.
"""

import gzip
import io
import json
import pathlib
import struct
import sys

root = pathlib.Path(__file__).parent / "corpus"


def put(target, name, data):
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def idx_images(n, rows, cols, claimed=None):
    header = struct.pack(">IIII", 0x0803, claimed if claimed is not None else n, rows, cols)
    return header + bytes((i * 37) % 256 for i in range(n * rows * cols))


idx_labels = struct.pack(">II", 0x0801, 3) + bytes([1, 7, 3])
put("idx", "images-3x4x4", idx_images(3, 4, 4))
put("idx", "labels-3", idx_labels)
put("idx", "claims-billions", idx_images(1, 28, 28, claimed=4_000_000_000))
put("idx", "truncated", idx_images(3, 4, 4)[:30])
put("idx", "zero-size", idx_images(0, 0, 0))
put("idx_gz", "images.gz", gzip.compress(idx_images(3, 4, 4)))
put("idx_gz", "images-raw", idx_images(2, 28, 28))
put("idx_gz", "torn.gz", gzip.compress(idx_images(3, 4, 4))[:25])
put("idx_gz", "bomb.gz", gzip.compress(struct.pack(">IIII", 0x0803, 1000, 28, 28) + bytes(784 * 1000)))

record = bytes([3]) + bytes(range(256)) * 12
put("cifar", "two-records", record + record[::-1])
put("cifar", "torn-record", record + record[:100])
put("cifar", "label-out-of-range", bytes([200]) + record[1:])

def npy(header, body, version=(1, 0)):
    header = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version[0] == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes(version) + size + header.encode() + body


body = struct.pack("<6f", *range(6))
put("npy", "f32-2x3", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", body))
put("npy", "v2", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", body, (2, 0)))
put("npy", "v3", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", body, (3, 0)))
put("npy", "fortran", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", body))
put("npy", "f64", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", body))
put("npy", "claims-billions", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }", body))
put("npy", "scalar", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", body[:4]))

try:
    from PIL import Image

    for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp")]:
        for mode in ["L", "RGB", "RGBA"] if fmt == "PNG" else ["RGB"]:
            buf = io.BytesIO()
            Image.new(mode, (5, 3), (200,) * len(mode)).save(buf, fmt)
            put("image", f"{mode.lower()}.{ext}", buf.getvalue())
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = struct.pack(">II", 100_000, 100_000)  # IHDR claims 100000x100000
    put("image", "claims-huge.png", bytes(png))
except ImportError:
    print("Pillow missing: no image seeds", file=sys.stderr)

try:
    import torch
    from safetensors.torch import save as save_safetensors

    state = {"f7.weight": torch.arange(20.0).reshape(2, 10), "f7.bias": torch.zeros(2)}
    buf = io.BytesIO()
    torch.save(state, buf)
    put("weights", "state-dict.pth", buf.getvalue())
    buf = io.BytesIO()
    torch.save(state, buf, _use_new_zipfile_serialization=False)
    put("weights", "legacy.pth", buf.getvalue())
    put("weights", "tensors.safetensors", save_safetensors(state))
    put("weights", "safetensors-header-past-end", struct.pack("<Q", 1 << 40) + b'{"a":1}')
except ImportError:
    print("torch or safetensors missing: no PyTorch seeds", file=sys.stderr)

run_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None
if run_dir and (run_dir / "model.bpk").is_file():
    put("weights", "lenet5.bpk", (run_dir / "model.bpk").read_bytes())
    put("run_config", "config.json", (run_dir / "config.json").read_bytes())
put("run_config", "not-json", b"{\"model\": ")
put("run_config", "wrong-types", json.dumps({"model": 5, "epochs": "many"}).encode())

recipes = pathlib.Path(__file__).parents[2] / "recipes"
for name in ["lenet5-synth", "resnet20-cifar10"]:
    put("recipe", f"{name}.json", (recipes / f"{name}.json").read_bytes())
put("recipe", "negative-lr", json.dumps({**json.loads((recipes / "lenet5-synth.json").read_text()), "lr": -1}).encode())
put("recipe", "huge-batch", json.dumps({**json.loads((recipes / "lenet5-synth.json").read_text()), "batch_size": 1 << 62}).encode())
put("recipe", "unknown-field", b'{"model": "lenet5", "epochz": 3}')
