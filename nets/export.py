"""Export a model's nets as ONNX files, so that they can leave the project for any runtime:

    python -m nets.export NAME OUT_DIR      # NAME: face, anime, smile, emotion, keypoints, or a model file

Each net becomes OUT_DIR/FILE.onnx (FILE: its model file's name), taking float32 (N, 3, S, S) pictures,
RGB pixel values 0-255, with the input normalisation built in; a classifier gives "probabilities" (N,
classes), a regressor "outputs" (N, D). OUT_DIR/NAME.json names each file's role, classes or outputs and
input size, and for a detector the settings its stages run with (nets/cascade_detector.py and
nets/detector.py describe the stages). Needs the onnx extra: pip install '.[onnx]'.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np

import nanonet as nn
from nanonet.serialize import ModelFileError, atomic_write

OPSET = 17


class Graph:
    """ONNX nodes and initializers, built up layer by layer; each add returns its output's name."""

    def __init__(self):
        import onnx.numpy_helper
        self.onnx, self.nodes, self.weights, self.count = onnx, [], [], 0

    def constant(self, array):
        name = f"w{len(self.weights)}"
        self.weights.append(self.onnx.numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def add(self, op, inputs, **attributes):
        self.count += 1
        out = f"{op.lower()}{self.count}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], **attributes))
        return out

    def layer(self, layer, x):
        """The nodes of one nanonet layer (or a Sequential or Concat of them) applied to x."""
        if isinstance(layer, nn.Sequential):
            for child in layer.layers:
                x = self.layer(child, x)
            return x
        if isinstance(layer, nn.Concat):
            return self.add("Concat", [self.layer(branch, x) for branch in layer.branches], axis=layer.axis)
        if isinstance(layer, nn.Conv2D):
            (ph, pw), bias = layer.pad, [] if layer.b is None else [self.constant(layer.b.data)]
            return self.add("Conv", [x, self.constant(layer.W.data)] + bias, strides=list(layer.stride),
                            pads=[ph, pw, ph, pw], kernel_shape=list(layer.ksize))
        if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D)):
            (ph, pw) = layer.pad
            op = "MaxPool" if isinstance(layer, nn.MaxPool2D) else "AveragePool"
            extra = {} if op == "MaxPool" else {"count_include_pad": 1}
            return self.add(op, [x], kernel_shape=list(layer.ksize), strides=list(layer.stride),
                            pads=[ph, pw, ph, pw], ceil_mode=int(layer.cover_all), **extra)
        if isinstance(layer, nn.BatchNorm):
            return self.add("BatchNormalization", [x] + [self.constant(a) for a in (
                layer.gamma.data, layer.beta.data, layer.avg_mean, layer.avg_var)], epsilon=float(layer.eps))
        if isinstance(layer, nn.Linear):
            flat = self.add("Flatten", [x], axis=1)
            bias = [] if layer.b is None else [self.constant(layer.b.data)]
            return self.add("Gemm", [flat, self.constant(layer.W.data)] + bias, transB=1)
        if isinstance(layer, nn.Flatten):
            return self.add("Flatten", [x], axis=1)
        if isinstance(layer, nn.Dropout):
            return x
        if isinstance(layer, nn.LeakyReLU):
            return self.add("LeakyRelu", [x], alpha=float(layer.slope))
        if isinstance(layer, nn.Softmax):
            return self.add("Softmax", [x], axis=layer.axis)
        simple = {nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh"}
        if type(layer) in simple:
            return self.add(simple[type(layer)], [x])
        raise ValueError(f"no ONNX export for a {type(layer).__name__} layer")


def to_onnx(model, normalization, input_size, classifier, name):
    """An onnx ModelProto of `model` behind its input normalisation: input "image" float32 (N, 3, S, S) pixel
    values; output "probabilities" (softmax) for a classifier, else "outputs"."""
    import onnx
    graph = Graph()
    x = graph.add("Sub", ["image", graph.constant(normalization.mean)])
    x = graph.layer(model, graph.add("Div", [x, graph.constant(normalization.std)]))
    x = graph.add("Softmax", [x], axis=1) if classifier else x
    output = "probabilities" if classifier else "outputs"
    graph.nodes.append(onnx.helper.make_node("Identity", [x], [output]))
    width = model.predict(np.zeros((1, 3, input_size, input_size), np.float32)).shape[1]
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes, name,
            [onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["N", 3, input_size, input_size])],
            [onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, ["N", width])],
            graph.weights),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)], producer_name="nanonet")
    onnx.checker.check_model(proto)
    return proto


def export(name, out_dir):
    """Write every net of model `name` to out_dir as ONNX, and NAME.json describing them; returns the paths."""
    import nets
    from nets.registry import get, load_model
    paths = [os.path.join(nets.WEIGHTS, f) for f in nets.shipped_files(name)] if name in nets.SHIPPED else [name]
    os.makedirs(out_dir, exist_ok=True)
    written, described = [], []
    for path in paths:
        model, normalization, f = load_model(path)
        spec = get(f.arch)
        base = os.path.splitext(os.path.basename(path))[0]
        classifier = spec.task == "classify"
        proto = to_onnx(model, normalization, f.config["input_size"], classifier, base)
        target = os.path.join(out_dir, base + ".onnx")
        atomic_write(target, lambda out: out.write(proto.SerializeToString()))
        written.append(target)
        described.append({"file": base + ".onnx", "net": f.arch, "input_size": f.config["input_size"],
                          "grey": spec.grey, **({"classes": f.config["classes"]} if classifier else
                                                {"outputs": f.config["outputs"]})})
    about = {"model": name, "nets": described,
             "input": "float32 (N, 3, S, S), RGB pixel values 0-255; the input normalisation is built in"}
    if name in nets.DETECTORS:
        from nets.cascade_detector import CascadeDetector
        from nets.detector import SlidingWindowDetector
        about["settings"] = nets.detector_settings(CascadeDetector if name == "face" else SlidingWindowDetector)
    target = os.path.join(out_dir, os.path.basename(os.path.splitext(name)[0]) + ".json")
    atomic_write(target, lambda out: out.write(json.dumps(about, indent=1).encode()))
    return written + [target]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="face, anime, smile, emotion, keypoints, or a model file train.py wrote")
    p.add_argument("out_dir")
    args = p.parse_args(argv)
    if importlib.util.find_spec("onnx") is None:
        print("nets.export: needs onnx: pip install '.[onnx]'", file=sys.stderr)
        return 2
    try:
        for path in export(args.name, args.out_dir):
            print(path)
    except (ModelFileError, ValueError, OSError) as e:
        print(f"nets.export: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
