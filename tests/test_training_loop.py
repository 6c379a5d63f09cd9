"""The Trainer: files it writes, exact resume after an interruption, and train.py end to end."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nets
from nanonet import runs, serialize
from nanonet.data.datasets import DataError
from nets import registry
from tests.cases import epoch_records, NORM, cascade_files, tiny_trainer, untrained_net
from tests.data_files import class_folders, keypoints_folder, train_py, webfaces_folder, write_image, zip_of

ROOT = Path(__file__).resolve().parents[1]


def _umask():
    import os
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_run_writes_metrics_curves_and_checkpoints(tmp_path):
    assert tiny_trainer(tmp_path).run() == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "curves.png", "last.npz", "metrics.jsonl",
                                                          "run.json"]
    records = epoch_records(tmp_path)
    assert [r["epoch"] for r in records] == [1, 2, 3]
    points = [r for r in runs.read_records(tmp_path / "metrics.jsonl") if runs.is_point(r)]
    assert [(p["epoch"], p["batch"]) for p in points] == [(e, b) for e in (1, 2, 3) for b in (2, 4, 5)]
    assert {"loss", "acc", "lr", "images_per_s", "batches", "time"} <= set(points[0])
    info = runs.read_run(tmp_path, tmp_path)
    assert (info["net"], info["state"], info["epochs"], info["name"]) == ("tiny", "finished", 3, ".")
    assert records[1]["lr"] == pytest.approx(0.05 * 0.9)
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "images_per_s"} <= set(records[0])
    last = serialize.read(tmp_path / "last.npz")
    assert last.meta["training"]["epoch"] == 3 and "opt/t" in last.extra
    assert serialize.read(tmp_path / "best.npz").extra == {}  # for inference: no optimizer slots
    assert oct((tmp_path / "best.npz").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


@pytest.mark.parametrize("stop_at", [3, 5, 11])  # mid-epoch, at an epoch's end, in the last epoch
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, stop_at):
    straight = tiny_trainer(tmp_path / "straight")
    straight.run()

    def stop(trainer):
        trainer.stop_requested = trainer.stop_requested or trainer.batch + 5 * trainer.epoch == stop_at
    first = tiny_trainer(tmp_path / "split")
    first.on_step = stop
    assert first.run() == "interrupted"
    second = tiny_trainer(tmp_path / "split", init_seed=99).resume(tmp_path / "split" / "last.npz")
    assert second.run() == "finished"
    for name, a in straight.model.state().items():
        assert a.tobytes() == second.model.state()[name].tobytes(), name
    assert [r["epoch"] for r in second.history] == [1, 2, 3]
    timeless = lambda path: [{k: v for k, v in r.items() if k not in ("time", "images_per_s")}  # noqa: E731
                             for r in runs.read_records(path / "metrics.jsonl")]
    assert timeless(tmp_path / "split") == timeless(tmp_path / "straight")


@pytest.mark.parametrize("net", list(registry.NETS))
def test_fast_mode_for_every_registered_net(net, tmp_path):
    if registry.NETS[net].samples and not registry.NETS[net].scenes:
        data = webfaces_folder(tmp_path / "set", size=160)
    elif registry.NETS[net].points:
        data = keypoints_folder(tmp_path / "set")[0]
    else:
        spec = registry.NETS[net]
        classes = list(spec.class_targets)[:2] if spec.class_targets else ("face", "nonface")
        data = zip_of(class_folders(tmp_path / "set", per_class=8, classes=classes), tmp_path / "set.zip")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = train_py("--net", net, "--data", str(data), "--val", "0.5", "--fast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "nothing written" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_train_py_trains_and_resumes(tmp_path):
    data = class_folders(tmp_path / "set", per_class=8, size=64)
    out = tmp_path / "run"
    args = ["--net", "frg64", "--data", str(data), "--val", "0.3", "--epochs", "1", "--batch", "4", "--out", str(out)]
    assert train_py(*args).returncode == 0
    f = serialize.read(out / "best.npz")
    assert f.arch == "frg64" and f.config["classes"] == ["face", "nonface"] and "command" in f.meta
    again = train_py(*args)
    assert again.returncode == 2 and "--resume" in again.stderr
    other_batch = train_py(*args[:-4], "--batch", "8", "--epochs", "2", "--out", str(out), "--resume")
    assert other_batch.returncode == 2 and "the run began with --batch 4" in other_batch.stderr
    resumed = train_py(*args[:-2], "--epochs", "2", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(epoch_records(out)) == 2
    model, norm, _ = registry.load_model(out / "best.npz")
    assert model.predict(norm(np.zeros((1, 64, 64, 3), np.uint8))).shape == (1, 2)


def test_init_starts_from_a_trained_models_weights_and_normalisation(tmp_path):
    data = class_folders(tmp_path / "set", per_class=8, size=64)
    args = ["--net", "frg64s", "--data", str(data), "--val", "0.3", "--epochs", "1", "--batch", "4"]
    assert train_py(*args, "--out", str(tmp_path / "first")).returncode == 0
    first = serialize.read(tmp_path / "first" / "best.npz")
    tuned = train_py(*args, "--out", str(tmp_path / "tuned"), "--init", str(tmp_path / "first" / "best.npz"),
                      "--lr", "1e-30", "--weight-decay", "0", "--brightness", "30", "--contrast", "0.3")
    assert tuned.returncode == 0, tuned.stderr
    second = serialize.read(tmp_path / "tuned" / "best.npz")
    learnt = [k for k in first.state if k.rsplit("/", 1)[1] in ("W", "b", "gamma", "beta")]
    assert learnt and all(np.allclose(first.state[k], second.state[k], rtol=0, atol=1e-25) for k in learnt)
    assert all(np.array_equal(first.normalization[k], second.normalization[k]) for k in first.normalization)
    assert "--init" in second.meta["command"]
    other = train_py(*args, "--fast", "--init", str(ROOT / "nets" / "weights" / "face-net12.npz"))
    assert other.returncode == 2 and other.stderr.strip() == (
        f"train.py: --init {ROOT / 'nets' / 'weights' / 'face-net12.npz'}: holds a 'net12' net, not 'frg64s'")


NONSENSE = {"bad_grey": ["--grey", "1.5"], "batch_0": ["--batch", "0"], "batch_negative": ["--batch", "-4"],
            "epochs_0": ["--epochs", "0"], "lr_nan": ["--lr", "nan"], "lr_negative": ["--lr", "-0.1"],
            "momentum_1": ["--momentum", "1"], "fast_resume": ["--fast", "--resume"]}


@pytest.mark.parametrize("problem", ["no_data", "bad_val", "unknown_net", "bad_image", *NONSENSE])
def test_train_py_bad_input_gets_one_line_and_exit_2(tmp_path, problem):
    data = class_folders(tmp_path / "set", per_class=4)
    args = {"no_data": ["--net", "frg64", "--data", str(tmp_path / "nothing"), "--fast"],
            "bad_val": ["--net", "frg64", "--data", str(data), "--val", "half", "--fast"],
            **{name: ["--net", "frg64", "--data", str(data), "--out", str(tmp_path / "run"), *option]
               for name, option in NONSENSE.items()},
            "unknown_net": ["--net", "resnet", "--data", str(data), "--fast"],
            "bad_image": ["--net", "frg64", "--data", str(data), "--val", "0.3", "--fast"]}[problem]
    if problem == "bad_image":
        for f in (data / "face").iterdir():
            f.write_bytes(b"broken")
    result = train_py(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("train.py: ")
    assert not (tmp_path / "run").exists()          # nothing written, not even an untrained model


def test_ctrl_c_saves_and_resume_continues(tmp_path):
    import signal
    import time
    data = class_folders(tmp_path / "set", per_class=8)
    out = tmp_path / "run"
    args = [sys.executable, str(ROOT / "train.py"), "--net", "frg64s", "--data", str(data), "--val", "0.3",
            "--batch", "2", "--epochs", "1000", "--out", str(out)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not epoch_records(out) and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: saved" in stderr and "--resume" in stderr
    state = serialize.read(out / "last.npz").meta["training"]
    assert state["epoch"] >= 1
    resumed = subprocess.run(args[:-4] + ["--epochs", str(state["epoch"] + 1), "--out", str(out), "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert serialize.read(out / "last.npz").meta["training"]["epoch"] == state["epoch"] + 1


def test_hard_negatives_join_the_training_set(tmp_path):
    model = tmp_path / "first.npz"
    serialize.save(model, untrained_net(), "frg64s", {"classes": ["face", "nonface"], "input_size": 64}, NORM.arrays())
    data = class_folders(tmp_path / "set", per_class=8, size=64)
    args = ["--net", "frg64s", "--data", str(data), "--val", "0.3", "--fast"]
    plain, mining = train_py(*args), train_py(*args, "--hard-negatives", str(model))
    assert mining.returncode == 0, mining.stderr
    mined = int(mining.stdout.split("mined ")[1].split()[0])
    training = lambda result: int(result.stdout.split(" training")[0].split()[-1])  # noqa: E731
    assert mined > 0 and training(mining) == training(plain) + mined
    misframed = train_py(*args, "--hard-negatives", str(model), "--misframed", "2")
    assert misframed.returncode == 0, misframed.stderr
    cut = int(misframed.stdout.split("cut ")[1].split()[0])
    assert cut > 0 and training(misframed) == training(mining) + cut
    alone = train_py(*args, "--misframed", "2")
    assert alone.returncode == 2 and "--misframed" in alone.stderr
    # a single net is a detector of one stage: the stages to mine with can be 1, and no more
    one = train_py(*args, "--hard-negatives", str(model), "--mine-stages", "1")
    assert one.returncode == 0 and training(one) == training(mining), one.stderr
    two = train_py(*args, "--hard-negatives", str(model), "--mine-stages", "2")
    assert two.returncode == 2 and "stages 2" in two.stderr and "Traceback" not in two.stderr, two.stderr


def test_negatives_of_earlier_runs_join_the_training_set(tmp_path):
    data = class_folders(tmp_path / "set", per_class=8, size=64)
    earlier, small, foreign = tmp_path / "earlier.npz", tmp_path / "small.npz", tmp_path / "foreign.npz"
    np.savez(earlier, crops=np.full((5, 64, 64, 3), 7, np.uint8))
    np.savez(small, crops=np.full((5, 24, 24, 3), 7, np.uint8))
    foreign.write_bytes(b"not a zip")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(earlier.read_bytes()[:1000])
    args = ["--net", "frg64s", "--data", str(data), "--val", "0.3", "--fast"]
    training = lambda result: int(result.stdout.split(" training")[0].split()[-1])  # noqa: E731
    plain, added = train_py(*args), train_py(*args, "--negatives", f"{earlier},{earlier}")
    assert added.returncode == 0, added.stderr
    assert training(added) == training(plain) + 10
    for path, message in ((small, "expected uint8 crops (N, 64, 64, 3)"), (foreign, "not a hard_negatives.npz"),
                          (truncated, "not a hard_negatives.npz")):
        bad = train_py(*args, "--negatives", str(path))
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_photographs_are_mined_beside_the_composed_scenes(tmp_path):
    model = tmp_path / "first.npz"
    serialize.save(model, untrained_net(), "frg64s", {"classes": ["face", "nonface"], "input_size": 64}, NORM.arrays())
    data = class_folders(tmp_path / "set", per_class=8, size=64)
    photos = webfaces_folder(tmp_path / "wf")
    for name in ("a.jpg", "b.jpg"):     # as bright as the faces, which the model accepts
        write_image(photos / "images" / name, 200, size=200)
    args = ["--net", "frg64s", "--data", str(data), "--val", "0.3", "--fast", "--hard-negatives", str(model)]
    scenes, both = train_py(*args), train_py(*args, "--negative-photos", str(photos), "--mine-per-image", "3")
    assert both.returncode == 0, both.stderr
    line = next(line for line in both.stdout.splitlines() if line.endswith("photographs"))
    mined = int(line.split()[1])
    training = lambda result: int(result.stdout.split(" training")[0].split()[-1])  # noqa: E731
    assert 0 < mined <= 3 * 2 and training(both) == training(scenes) + mined
    # --cel-shaded mines each photograph once more, drawn: as many windows again at most
    drawn = train_py(*args, "--negative-photos", str(photos), "--mine-per-image", "3", "--cel-shaded")
    assert drawn.returncode == 0, drawn.stderr
    line = next(line for line in drawn.stdout.splitlines() if line.endswith("cel-shaded photographs"))
    assert 0 < int(line.split()[1]) <= 3 * 2 and training(drawn) == training(both) + int(line.split()[1])
    alone = train_py("--net", "frg64s", "--data", str(data), "--fast", "--negative-photos", str(photos))
    assert alone.returncode == 2 and "--negative-photos" in alone.stderr
    undrawn = train_py(*args, "--cel-shaded")
    assert undrawn.returncode == 2 and "--cel-shaded" in undrawn.stderr and "Traceback" not in undrawn.stderr


def test_calibration_samples_from_scenes_composed_of_each_split_apart(tmp_path):
    import dataclasses
    from nets.training import scene_sets
    spec = dataclasses.replace(registry.NETS["animecal"], scenes=20, per_face=3, displaced=2)
    data = class_folders(tmp_path / "set", per_class=10, size=64)
    train, val, images = scene_sets(spec, str(data), "0.3", 0, fast=False)
    assert images is None and len(train) >= 20 * 5 and len(val) >= 2 * 5 and len(train) % 5 == len(val) % 5 == 0
    assert train.images.shape[1:] == (24, 24, 3) and train.labels.max() < 45
    np.testing.assert_array_equal(scene_sets(spec, str(data), "0.3", 0, fast=False)[0].images, train.images)
    others = class_folders(tmp_path / "other", per_class=4, size=64, classes=("cat", "dog"))
    with pytest.raises(DataError, match="'face' class"):
        scene_sets(spec, str(others), "0.5", 0, fast=True)


def test_faces_from_a_keypoints_set_join_the_cascade_training_images_less_its_held_out_people(tmp_path):
    from nets.keypoints import person_of
    from nets.training import detection_sets, landmark_faces
    keypoints, _ = keypoints_folder(tmp_path / "kp", people=20, frames=2, size=64)
    faces, held_out = landmark_faces(str(keypoints)), landmark_faces(str(keypoints), held_out=True)
    people = {person_of(a.path) for a in faces}
    assert 10 <= len(people) < 20 and len(faces) == 2 * len(people)      # whole people held out, as the keypoints nets do
    assert not people & {person_of(a.path) for a in held_out} and len(faces) + len(held_out) == 40
    assert all(a.boxes.shape == (1, 4) and a.keypoints.shape == (1, 68, 2) for a in faces)
    spec = registry.NETS["net12"]
    data = str(webfaces_folder(tmp_path / "wf"))
    plain = detection_sets(spec, data, "0.5", 0, fast=False)
    joined = detection_sets(spec, data, "0.5", 0, fast=False, faces_from=str(keypoints))
    assert [a.path for a in joined[2]] == [a.path for a in plain[2]] + [a.path for a in faces]
    assert len(joined[0]) > len(plain[0]) and len(joined[1]) == len(plain[1])     # validation stays WebFaces'
    refused = train_py("--net", "frg64", "--fast", "--faces-from", str(keypoints))
    assert refused.returncode == 2 and "--faces-from is for the cascade's nets" in refused.stderr


def test_occlude_adds_covered_copies_of_the_training_faces_and_mines_the_originals_alone(tmp_path, monkeypatch):
    from nets import samples
    from nets.training import detection_sets
    spec = registry.NETS["net12"]
    data = str(webfaces_folder(tmp_path / "wf"))
    plain = detection_sets(spec, data, "0.5", 0, fast=False)
    monkeypatch.setattr(samples, "occlude", lambda image, faces, rng: np.zeros_like(image))   # covers it all
    covered = detection_sets(spec, data, "0.5", 0, fast=False, occlude=1.0)
    assert [a.path for a in covered[2]] == [a.path for a in plain[2]] and all(a.occluders is None for a in covered[2])
    assert len(covered[0]) == 2 * len(plain[0]) and len(covered[1]) == len(plain[1])    # validation stays as it is
    first, copies = covered[0].images[:len(plain[0])], covered[0].images[len(plain[0]):]
    np.testing.assert_array_equal(first, plain[0].images)
    assert not copies.any() and first.all(axis=(1, 2, 3)).any()
    refused = train_py("--net", "frg64", "--fast", "--occlude", "0.5")
    assert refused.returncode == 2 and "--occlude is for the cascade's nets" in refused.stderr


def test_cascade_trains_all_six_nets_mining_for_the_later_ones(tmp_path):
    data = webfaces_folder(tmp_path / "wf")
    args = ["--net", "cascade", "--data", str(data), "--val", "0.5", "--epochs", "1", "--batch", "8",
            "--out", str(tmp_path / "c")]
    result = train_py(*args)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == sorted(nets.CASCADE_STAGES)
    assert all((tmp_path / "c" / n / "best.npz").exists() for n in nets.CASCADE_STAGES)
    assert "with 1 cascade stages" in result.stdout and "with 2 cascade stages" in result.stdout
    again = train_py(*args)   # every stage is found finished and resumed at once
    assert again.returncode == 0 and again.stdout.count("--resume") == 6, again.stderr


def test_cascade_mining_threshold_sets_the_last_stage(tmp_path):
    from nets import mining
    from nets.annotations import read_webfaces
    paths = cascade_files(tmp_path, 2)
    images = read_webfaces(webfaces_folder(tmp_path / "wf"))
    mined = [len(mining.cascade_negatives(paths, images, 24, 0, 1000, threshold)) for threshold in (0.0, 0.5, 1.0)]
    assert mined[0] >= mined[1] and mined[2] == 0 and mined[0] > 0


def test_drop_faces_leaves_out_the_negatives_a_model_scores_as_faces(tmp_path):
    from nets import mining
    crops = np.random.default_rng(0).integers(0, 256, (40, 48, 48, 3)).astype(np.uint8)
    net48 = cascade_files(tmp_path)[4]
    scores = nets.load(net48).predict_proba(crops)
    threshold = float(np.median(scores))
    kept = mining.without_faces(crops, f"{net48}:{threshold}")
    np.testing.assert_array_equal(kept, crops[scores < threshold])
    with pytest.raises(DataError, match="MODEL:P"):
        mining.without_faces(crops, f"{net48}:high")
    with pytest.raises(DataError, match="48-pixel"):
        mining.without_faces(crops[:, :24, :24], f"{net48}:0.5")


def test_jitter_moves_and_rescales_every_crop_of_a_crop_data_set():
    from nets import training
    augment = registry.get("frg64s").augment
    jittered = training.varied(augment, shift=0.1, scale=0.1)
    assert (jittered.shift, jittered.scale, jittered.rot90, jittered.flip) == (0.1, 0.1, False, True)
    assert (augment.shift, augment.scale) == (0, 0)      # the registry's own is left alone


def test_photometric_varies_brightness_and_contrast_of_every_training_crop():
    from nets import training
    augment = registry.get("net48").augment
    varied = training.varied(augment, brightness=40, contrast=0.4, grey=0.3)
    assert (varied.brightness, varied.contrast, varied.grey, varied.flip) == (40, 0.4, 0.3, True)
    assert (augment.brightness, augment.contrast, augment.grey) == (0, 0, 0)   # the registry's own is left alone
