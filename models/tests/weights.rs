//! Strict weight loading: a file that does not fit the model is one error listing every missing
//! and unexpected key and every shape mismatch, the model is left untouched, and
//! `allow_partial` loads what fits. Plus what is not a weights file at all, the renames every
//! model gets (`module.`), the CIFAR ResNets' `linear` head, and the round trips through `.bpk`
//! and the torchvision-named safetensors export.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use safetensors::SafeTensors;
use safetensors::tensor::TensorView;
use zoo_models::weights::{LoadOptions, WeightsError, WeightsFormat, export_pytorch_safetensors, load, save_burnpack};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel, create};

fn fixture(model: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity").join(model).join(file)
}

fn model(name: &str, classes: Option<usize>) -> ZooModel {
    let mut options = ModelOptions::default();
    if let Some(n) = classes {
        options = options.with_num_classes(n);
    }
    create(name, &options, &Device::flex()).unwrap()
}

fn logits(model: &ZooModel, input: [usize; 4]) -> Vec<f32> {
    let device = Device::flex();
    let x = Tensor::<4>::ones(input, &device);
    model.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

/// Rewrites a safetensors file: `edit` gets (name, shape, bytes) entries and returns new ones.
fn rewrite(
    src: &Path,
    dst: &Path,
    edit: impl FnOnce(Vec<(String, Vec<usize>, Vec<u8>)>) -> Vec<(String, Vec<usize>, Vec<u8>)>,
) {
    let bytes = std::fs::read(src).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let entries: Vec<(String, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec())).collect();
    let entries = edit(entries);
    let views: Vec<(String, TensorView)> = entries
        .iter()
        .map(|(n, s, d)| (n.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap()))
        .collect();
    std::fs::write(dst, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn mismatch_report(e: WeightsError) -> zoo_models::weights::LoadReport {
    match e {
        WeightsError::Mismatch { report, .. } => *report,
        other => panic!("expected a mismatch, got: {other}"),
    }
}

#[test]
fn missing_and_unexpected_keys_are_one_error_that_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lenet5-edited.safetensors");
    rewrite(&fixture("lenet5", "weights.safetensors"), &path, |mut entries| {
        entries.retain(|(n, _, _)| n != "fc3.bias" && n != "conv2.weight");
        entries.push(("fc4.weight".into(), vec![2, 2], vec![0; 16]));
        entries
    });
    let mut net = model("lenet5", None);
    let before = logits(&net, [1, 1, 32, 32]);
    let e = load(&mut net, &path, &LoadOptions::default()).unwrap_err();
    let message = e.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("2 missing keys: conv2.weight, fc3.bias"), "{message}");
    assert!(message.contains("1 unexpected keys: fc4.weight"), "{message}");
    let report = mismatch_report(e);
    assert_eq!((report.missing.len(), report.unexpected.len(), report.loaded), (2, 1, 0));
    // Strict failure loads nothing.
    assert_eq!(logits(&net, [1, 1, 32, 32]), before);
}

#[test]
fn a_shape_mismatch_names_the_tensor_and_both_shapes() {
    let mut net = model("lenet5", Some(5));
    let e = load(&mut net, &fixture("lenet5", "weights.pth"), &LoadOptions::default()).unwrap_err();
    let message = e.to_string();
    // PyTorch's [out, in] convention for Linear weights, as in the file.
    assert!(message.contains("fc3.weight is [10, 84] in the file but [5, 84] in the model"), "{message}");
    assert!(message.contains("fc3.bias is [10] in the file but [5] in the model"), "{message}");
    assert_eq!(mismatch_report(e).mismatched.len(), 2);
}

#[test]
fn allow_partial_loads_what_fits_and_reports_the_rest() {
    let mut partial = model("lenet5", Some(5));
    let report =
        load(&mut partial, &fixture("lenet5", "weights.pth"), &LoadOptions::default().with_allow_partial(true))
            .unwrap();
    assert_eq!(report.loaded, 8);
    assert_eq!(report.mismatched.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), ["fc3.bias", "fc3.weight"]);
    assert!(report.summary().contains("2 shape mismatches"), "{}", report.summary());

    // The backbone is the file's: its features equal a strictly loaded 10-class copy's.
    let mut full = model("lenet5", None);
    load(&mut full, &fixture("lenet5", "weights.pth"), &LoadOptions::default()).unwrap();
    let device = Device::flex();
    let x = Tensor::<4>::ones([1, 1, 32, 32], &device);
    let a = partial.forward_stages(x.clone(), &mut |_, x| x);
    let b = full.forward_stages(x, &mut |_, x| x);
    a.into_data().assert_approx_eq::<f32>(&b.into_data(), burn::tensor::Tolerance::absolute(1e-6));
}

#[test]
fn the_wrong_model_lists_both_sides() {
    let mut net = model("resnet20", None);
    let message = load(&mut net, &fixture("lenet5", "weights.pth"), &LoadOptions::default()).unwrap_err().to_string();
    assert!(message.contains("missing keys: bn1.bias, bn1.running_mean"), "{message}");
    assert!(message.contains("9 unexpected keys: conv1.bias, conv2.bias, conv2.weight, fc1.bias"), "{message}");
    assert!(message.contains("conv1.weight is [6, 1, 5, 5] in the file but [16, 3, 3, 3] in the model"), "{message}");
    assert!(message.contains("... and"), "long lists are cut: {message}");
}

#[test]
fn what_is_not_a_weights_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = model("lenet5", None);
    let options = LoadOptions::default();
    let check = |net: &mut ZooModel, path: &Path, needle: &str| {
        let e = load(net, path, &options).unwrap_err();
        let message = e.to_string();
        assert!(!message.contains('\n') && message.contains(needle), "{message}");
        assert!(message.starts_with(&path.display().to_string()), "{message}");
        e
    };

    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "these are not weights\n").unwrap();
    assert!(matches!(check(&mut net, &text, "not a weights file"), WeightsError::NotWeights { .. }));

    let empty = dir.path().join("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    check(&mut net, &empty, "empty");

    // Half of a real checkpoint: recognised as PyTorch, then unreadable — never a panic.
    let full = std::fs::read(fixture("lenet5", "weights.pth")).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    assert!(matches!(check(&mut net, &cut, "unreadable PyTorch file"), WeightsError::Unreadable { .. }));

    let legacy = std::fs::read(fixture("lenet5", "weights-legacy.pth")).unwrap();
    let cut_legacy = dir.path().join("cut-legacy.pth");
    std::fs::write(&cut_legacy, &legacy[..legacy.len() / 3]).unwrap();
    check(&mut net, &cut_legacy, "unreadable PyTorch file");

    let st = std::fs::read(fixture("lenet5", "weights.safetensors")).unwrap();
    let cut_st = dir.path().join("cut.safetensors");
    std::fs::write(&cut_st, &st[..200]).unwrap();
    check(&mut net, &cut_st, "safetensors");

    check(&mut net, &dir.path().join("absent.pth"), "no such file");
    check(&mut net, dir.path(), "not a file");
}

#[test]
fn formats_are_recognised_by_content() {
    for (file, format) in [
        ("weights.pth", WeightsFormat::Pytorch),
        ("weights-legacy.pth", WeightsFormat::Pytorch),
        ("weights.safetensors", WeightsFormat::Safetensors),
    ] {
        assert_eq!(WeightsFormat::detect(&fixture("lenet5", file)).unwrap(), format, "{file}");
    }
}

#[test]
fn data_parallel_prefixes_and_the_cifar_linear_head_are_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("resnet20.safetensors");
    let mut reference = model("resnet20", None);
    load(&mut reference, &fixture("resnet20", "weights.pth"), &LoadOptions::default()).unwrap();
    export_pytorch_safetensors(&reference, &exported).unwrap();
    // As `pytorch_resnet_cifar10` saves it: DataParallel's `module.` and a head named `linear`.
    let renamed = dir.path().join("renamed.safetensors");
    let bytes = std::fs::read(&exported).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, TensorView)> =
        st.tensors().into_iter().map(|(n, v)| (format!("module.{}", n.replace("fc.", "linear.")), v)).collect();
    std::fs::write(&renamed, safetensors::serialize(views, None).unwrap()).unwrap();

    let mut net = model("resnet20", None);
    let report = load(&mut net, &renamed, &LoadOptions::default()).unwrap();
    assert!(report.is_exact(), "{}", report.summary());
    assert_eq!(logits(&net, [1, 3, 32, 32]), logits(&reference, [1, 3, 32, 32]));
}

#[test]
fn exports_have_torchvision_keys_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut original = model("resnet20", None);
    load(&mut original, &fixture("resnet20", "weights.pth"), &LoadOptions::default()).unwrap();

    // safetensors: exactly the PyTorch state dict's key set, BatchNorm counters included.
    let exported = dir.path().join("resnet20.safetensors");
    export_pytorch_safetensors(&original, &exported).unwrap();
    let bytes = std::fs::read(&exported).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    assert_eq!(names.len(), 116, "resnet20's PyTorch state dict has 116 entries");
    for key in ["conv1.weight", "bn1.weight", "bn1.num_batches_tracked", "layer3.2.bn2.running_var", "fc.weight"] {
        assert!(names.iter().any(|n| n == key), "{key} missing from {names:?}");
    }
    assert_eq!(st.tensor("fc.weight").unwrap().shape(), [10, 64], "Linear weights in PyTorch's [out, in]");
    let mut back = model("resnet20", None);
    let report = load(&mut back, &exported, &LoadOptions::default()).unwrap();
    assert!(report.is_exact());
    assert_eq!(report.ignored, 19);
    assert_eq!(logits(&back, [2, 3, 32, 32]), logits(&original, [2, 3, 32, 32]));

    // burnpack, written atomically: no temporary file is left beside it.
    let bpk = dir.path().join("resnet20.bpk");
    save_burnpack(&original, &bpk).unwrap();
    let mut native = model("resnet20", None);
    let report = load(&mut native, &bpk, &LoadOptions::default()).unwrap();
    assert_eq!(report.format, WeightsFormat::Burnpack);
    assert_eq!(logits(&native, [2, 3, 32, 32]), logits(&original, [2, 3, 32, 32]));
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");

    // A burnpack of another model fails strictly, naming what does not fit.
    let mut other = model("resnet32", None);
    let message = load(&mut other, &bpk, &LoadOptions::default()).unwrap_err().to_string();
    assert!(message.contains("missing keys"), "{message}");
}

#[test]
fn densenet_loads_torchvision_and_pre_0_4_key_names() {
    use zoo_models::densenet::DenseNetConfig;
    let device = Device::flex();
    // A DenseNet small enough to write twice: growth 4, blocks of 1, 2, 1 and 1 layers.
    let tiny = || ZooModel::DenseNet(DenseNetConfig::new(4, [1, 2, 1, 1], 8).with_num_classes(5).init(&device));
    let source = tiny();
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("densenet.safetensors");
    export_pytorch_safetensors(&source, &exported).unwrap();
    let bytes = std::fs::read(&exported).unwrap();
    let keys: Vec<String> = SafeTensors::deserialize(&bytes).unwrap().names().into_iter().map(String::from).collect();
    // torchvision counts a block's layers from 1; the Vec inside counts from 0.
    assert!(keys.contains(&"features.denseblock2.denselayer2.norm1.weight".to_string()), "{keys:?}");
    assert!(keys.contains(&"features.transition3.conv.weight".to_string()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("denseblock2.1.")), "{keys:?}");

    // The names checkpoints saved before PyTorch 0.4 use: `norm.1`, `conv.2`, ...
    let legacy = dir.path().join("densenet-legacy-keys.safetensors");
    rewrite(&exported, &legacy, |entries| {
        entries
            .into_iter()
            // (`rewrite` writes f32 only; the loader skips the integer counters anyway.)
            .filter(|(name, ..)| !name.ends_with("num_batches_tracked"))
            .map(|(name, shape, data)| {
                let name = ["norm1", "norm2", "conv1", "conv2"].iter().fold(name, |n, part| {
                    let (kind, index) = part.split_at(4);
                    n.replace(&format!(".{part}."), &format!(".{kind}.{index}."))
                });
                (name, shape, data)
            })
            .collect()
    });
    let legacy_bytes = std::fs::read(&legacy).unwrap();
    let legacy_keys =
        SafeTensors::deserialize(&legacy_bytes).unwrap().names().into_iter().map(String::from).collect::<Vec<_>>();
    assert!(
        legacy_keys.contains(&"features.denseblock1.denselayer1.norm.1.running_var".to_string()),
        "{legacy_keys:?}"
    );

    // A misfit is reported in torchvision's names: block 2 of this file has a second layer.
    let mut shallower = ZooModel::DenseNet(DenseNetConfig::new(4, [1, 1, 1, 1], 8).with_num_classes(5).init(&device));
    let report = mismatch_report(load(&mut shallower, &legacy, &LoadOptions::default()).unwrap_err());
    assert!(report.unexpected.contains(&"features.denseblock2.denselayer2.norm1.weight".to_string()), "{report:?}");

    let expected = logits(&source, [2, 3, 32, 32]);
    for file in [&exported, &legacy] {
        let mut copy = tiny();
        assert_ne!(logits(&copy, [2, 3, 32, 32]), expected, "a fresh model differs");
        let report = load(&mut copy, file, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.is_exact(), "{}", report.summary());
        assert_eq!(logits(&copy, [2, 3, 32, 32]), expected, "{}", file.display());
    }
}

#[test]
fn auxiliary_classifiers_are_skipped_only_when_the_model_has_none() {
    let device = Device::flex();
    let with_heads =
        create("googlenet", &ModelOptions::default().with_num_classes(7).with_aux_logits(true), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("googlenet-aux.safetensors");
    export_pytorch_safetensors(&with_heads, &file).unwrap();

    // torchvision's published GoogLeNet weights carry aux1/aux2; a model without them skips them.
    let mut without = model("googlenet", Some(7));
    let report = load(&mut without, &file, &LoadOptions::default()).unwrap();
    assert!(report.is_exact(), "{}", report.summary());
    let aux_tensors = 2 * (1 + 4 + 2 + 2); // per head: conv, bn (4 incl. statistics), fc1, fc2
    let counters = 57 + 2; // one per BatchNorm of the trunk and of each head
    assert_eq!(report.ignored, aux_tensors + counters);
    assert_eq!(logits(&without, [1, 3, 64, 64]), logits(&with_heads, [1, 3, 64, 64]));

    // The other way round the heads' weights are missing, and strict loading says so.
    let plain = dir.path().join("googlenet.safetensors");
    export_pytorch_safetensors(&without, &plain).unwrap();
    let mut wants_heads =
        create("googlenet", &ModelOptions::default().with_num_classes(7).with_aux_logits(true), &device).unwrap();
    let report = mismatch_report(load(&mut wants_heads, &plain, &LoadOptions::default()).unwrap_err());
    assert_eq!(report.missing.len(), aux_tensors);
    assert!(report.missing.iter().all(|k| k.starts_with("aux1.") || k.starts_with("aux2.")), "{:?}", report.missing);
}

/// Gives every float tensor (weights, biases, BatchNorm affine and running statistics) fresh
/// values in `[0.5, 1.5)`, so a round trip that dropped any of them would show in the logits.
struct Randomize(Device);

impl burn::module::ModuleMapper for Randomize {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        let device = self.0.clone();
        param.map(|t| Tensor::random(t.shape(), burn::tensor::Distribution::Uniform(0.5, 1.5), &device))
    }
}

/// A BatchNorm's keys are the same whether a struct field (`bn1`), an optional one (`bn3`) or a
/// sequence slot (`downsample.1`) holds it: torchvision's in PyTorch naming, Burn's paths (with
/// the sequence's enum variant) in burnpack. A burnpack round trip restores every tensor.
#[test]
fn batch_norm_keys_are_torchvision_s_and_round_trip_through_burnpack() {
    use burn::module::Module;
    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
    let device = Device::flex();
    let keys = [
        ("resnet18", "ResNet.layer1.0.bn1.gamma", "layer1.0.bn1.weight"),
        ("resnet18", "ResNet.layer2.0.downsample.1.BatchNorm.running_var", "layer2.0.downsample.1.running_var"),
        ("resnet50", "ResNet.layer4.2.bn3.beta", "layer4.2.bn3.bias"),
        ("vgg11_bn", "Plain.features.1.BatchNorm.gamma", "features.1.weight"),
        ("googlenet", "GoogLeNet.inception3a.branch2.1.bn.running_mean", "inception3a.branch2.1.bn.running_mean"),
        ("densenet121", "DenseNet.features.norm0.gamma", "features.norm0.weight"),
    ];
    for (name, burnpack_key, pytorch_key) in keys {
        let net = model(name, Some(10));
        let burnpack: Vec<String> = net.collect(None, None, false).into_iter().map(|t| t.name).collect();
        assert!(burnpack.iter().any(|k| k == burnpack_key), "{name}: no {burnpack_key}");
        let pytorch: Vec<String> =
            net.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true).into_iter().map(|t| t.name).collect();
        assert!(pytorch.iter().any(|k| k == pytorch_key), "{name}: no {pytorch_key}");
    }

    // A one-block-per-stage bottleneck ResNet (fields, `bn3`, `downsample.1`) and GoogLeNet
    // (`BasicConv2d`'s `bn`): small enough to randomise and write quickly.
    let bottleneck = zoo_models::resnet::ResNetConfig::new(zoo_models::resnet::BlockKind::Bottleneck, [1, 1, 1, 1])
        .with_num_classes(10);
    let dir = tempfile::tempdir().unwrap();
    for (name, fresh) in [
        ("resnet-bottleneck", (&|| ZooModel::ResNet(bottleneck.init(&device))) as &dyn Fn() -> ZooModel),
        ("googlenet", &|| model("googlenet", Some(10))),
    ] {
        let original = fresh().map(&mut Randomize(device.clone()));
        let path = dir.path().join(format!("{name}.bpk"));
        save_burnpack(&original, &path).unwrap();
        let mut copy = fresh();
        let report = load(&mut copy, &path, &LoadOptions::default()).unwrap();
        assert!(report.is_exact(), "{name}: {}", report.summary());
        assert_eq!(logits(&copy, [1, 3, 32, 32]), logits(&original, [1, 3, 32, 32]), "{name}");
    }
}

/// A failure's cause stays reachable, typed, as the error's `source`; the message is unchanged.
#[test]
fn errors_keep_their_causes() {
    use std::error::Error;
    let dir = tempfile::tempdir().unwrap();
    let mut net = model("lenet5", None);

    let absent = dir.path().join("absent.pth");
    let e = load(&mut net, &absent, &LoadOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: no such file", absent.display()));
    let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>()).expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    // Half a checkpoint: burn-store's reader error.
    let full = std::fs::read(fixture("lenet5", "weights.pth")).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let e = load(&mut net, &cut, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, WeightsError::Unreadable { format: WeightsFormat::Pytorch, .. }), "{e}");
    assert!(e.source().is_some_and(|s| s.is::<burn::store::PytorchStoreError>()), "{e:?}");

    // Writing below a regular file: the system's error.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let e = save_burnpack(&net, &file.join("lenet5.bpk")).unwrap_err();
    assert!(matches!(e, WeightsError::Io { .. }), "{e}");
    assert!(e.source().is_some_and(|s| s.is::<std::io::Error>()), "{e:?}");
}
