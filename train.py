"""Train a registered net: python train.py --net frg64 [--data PATH] [--gpu N] [--resume] [--fast] ..."""
import contextlib
import os
import shlex
import sys

import nets
from nanonet import monitor, serialize
from nanonet.backend import BackendError
from nanonet.data.datasets import DataError
from nanonet.data.image import ImageError
from nanonet.training import Diverged
from nanonet.web import Background, CannotServe
from nets import registry
from nets.training import effective_spec, parse_args, prepare, run_folder


def train_cascade(args, argv):
    """--net cascade: the six nets in order, in OUT/NAME (default runs/cascade/NAME), each 24- and 48-net on
    the hard negatives of the stages before it. A stage already in its folder is resumed (a finished one
    returns at once), so an interrupted cascade continues with the same command."""
    root = args.out or os.path.join("runs", "cascade")
    shared, skip = [], False
    for token in argv:   # the options every stage shares: all but --net, --out and --resume
        if skip or token == "--resume" or token.startswith(("--net=", "--out=")):
            skip = False
            continue
        skip = token in ("--net", "--out")
        if not skip:
            shared.append(token)
    for k, name in enumerate(nets.CASCADE_STAGES):
        out = os.path.join(root, name)
        stage = shared + ["--net", name] + ([] if args.fast else ["--out", out])
        if name.startswith("net") and k and not args.fast:
            stage += ["--hard-negatives", ",".join(os.path.join(root, n, "best.npz") for n in nets.CASCADE_STAGES[:k])]
        if os.path.exists(os.path.join(out, "last.npz")) and not args.fast:
            stage.append("--resume")
        print(f"== {name}: python train.py {shlex.join(stage)}", flush=True)
        code = main(stage)
        if code:
            return code
    return 0


@contextlib.contextmanager
def monitored(port, out):
    """--monitor: the live monitor of the runs beside `out` (all of runs/ by default), served while training."""
    if port is None:
        yield
        return
    with Background(monitor.make_app(os.path.dirname(os.path.abspath(out))), port=port) as server:
        print(f"monitor: {server.url}", flush=True)
        yield


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv, __doc__)
    if args.net == "cascade":
        return train_cascade(args, argv)
    checkpoint = None
    try:
        spec, settings = effective_spec(args)
        out, checkpoint = run_folder(args, settings)
        with monitored(args.monitor, out):
            trainer = prepare(spec, settings, args, argv, out, checkpoint)
            result = trainer.run()
    except (DataError, ImageError, serialize.ModelFileError, BackendError, registry.UnknownNet, CannotServe) as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 2
    except Diverged as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 1
    except OSError as e:       # a checkpoint that cannot be written (a full disk, a folder made read-only)
        print(f"train.py: cannot write {e.filename or 'the run folder'}: {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        saved = checkpoint and os.path.exists(checkpoint)
        print("train.py: stopped at once; " + (f"{checkpoint} holds the last completed epoch" if saved else
                                                "nothing was saved"), file=sys.stderr)
        return 130
    if trainer.train.skipped:
        print(f"skipped {len(trainer.train.skipped)} unreadable images", file=sys.stderr)
    if result == "interrupted":
        again = shlex.join(argv + ([] if args.resume else ["--resume"]))
        print(f"interrupted: saved {checkpoint}; continue with: python train.py {again}", file=sys.stderr)
        return 130
    figure = f"validation accuracy {trainer.best:.4f}" if spec.task == "classify" else \
        f"validation loss {-trainer.best:.4g}"
    print(f"done: {out}/best.npz ({figure})" if out else "done (--fast: nothing written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
