"""PyTorch definitions of the zoo models, for benchmarks and weight interchange with the Rust zoo.

torchvision already has AlexNet, the VGGs, the ImageNet ResNets, GoogLeNet, Inception v3 and the
DenseNets, and the Rust models use its layouts and key names, so `create` returns torchvision's own modules for those. The models that
torchvision lacks (LeNet-5, ZF Net and the CIFAR ResNets of He et al. 2015, §4.2) are defined here
with attribute names equal to the Rust field names, so the state-dict keys match the Rust module's
(`layer2.0.conv1.weight`, `features.3.bias`, ...). PyTorch's BatchNorm additionally carries a
`num_batches_tracked` buffer, which Burn has no counterpart for.

Needs `pip install torch torchvision`. `python bench/reference_models.py` checks the parameter
counts against the Rust zoo's.
"""

import fnmatch

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET = (3, 224, 224)
CIFAR = (3, 32, 32)
# Name -> (default input (C, H, W), default classes), in the order of models/src/registry.rs
# (the plain VGGs by depth, then the _bn ones).
DEFAULTS = {
    "lenet5": ((1, 32, 32), 10),
    "alexnet": (IMAGENET, 1000),
    "zfnet": (IMAGENET, 1000),
    **{f"vgg{d}{bn}": (IMAGENET, 1000) for bn in ("", "_bn") for d in (11, 13, 16, 19)},
    **{f"resnet{d}": (IMAGENET, 1000) for d in (18, 34, 50, 101, 152)},
    **{f"resnet{d}": (CIFAR, 10) for d in (20, 32, 44, 56, 110)},
    "googlenet": (IMAGENET, 1000),
    "inception_v3": ((3, 299, 299), 1000),
    **{f"densenet{d}": (IMAGENET, 1000) for d in (121, 161, 169, 201)},
}
MODEL_NAMES = list(DEFAULTS)
# The registry's default of `aux_logits` where the model has auxiliary classifiers.
ZOO_AUX_LOGITS = {"googlenet": False, "inception_v3": True}

CIFAR_DEPTHS = (20, 32, 44, 56, 110)


class LeNet5(nn.Module):
    """models/src/lenet.rs: conv 6@5x5 → pool → conv 16@5x5 → pool → FC 120 → 84 → classes.

    `style="modern"` (the Rust default): ReLU and 2x2 max pool; `"classic"`: tanh and 2x2
    average pool. The activation comes before the pool, as in the Rust `forward_body`.
    """

    def __init__(self, num_classes=10, in_channels=1, style="modern"):
        super().__init__()
        if style not in ("modern", "classic"):
            raise ValueError(f"unknown LeNet style {style!r}")
        pool = nn.MaxPool2d if style == "modern" else nn.AvgPool2d
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.pool1 = pool(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = pool(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.activation = nn.ReLU() if style == "modern" else nn.Tanh()

    def forward(self, x):
        x = self.pool1(self.activation(self.conv1(x)))
        x = self.pool2(self.activation(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.activation(self.fc1(x))
        x = self.activation(self.fc2(x))
        return self.fc3(x)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: `x[:, :, ::stride, ::stride]` with `pad` zero channels on each side."""

    def __init__(self, stride, pad):
        super().__init__()
        self.stride = stride
        self.pad = pad

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        # F.pad pads the last dimensions first: (W, W, H, H, C, C).
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """models/src/resnet.rs `ResidualBlock` with a basic unit and an option-A shortcut.

    relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), as the Rust `forward`.
    """

    def __init__(self, in_channels, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        reshapes = stride != 1 or in_channels != planes
        self.zero_pad = ZeroPadShortcut(stride, (planes - in_channels) // 2) if reshapes else None

    def forward(self, x):
        identity = self.zero_pad(x) if self.zero_pad is not None else x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class CifarResNet(nn.Module):
    """models/src/resnet_cifar.rs: 3x3 stem of 16, three stages of n basic blocks (16, 32, 64
    filters), global average pool, fc; depth 6n+2."""

    def __init__(self, depth, num_classes=10, in_channels=3):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        channels = 16

        def stage(planes, stride):
            nonlocal channels
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(channels, planes, stride if i == 0 else 1))
                channels = planes
            return nn.Sequential(*blocks)

        self.layer1 = stage(16, 1)
        self.layer2 = stage(32, 2)
        self.layer3 = stage(64, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        # The Rust convolutions use conv2d_kaiming_out; BatchNorm and fc keep the defaults.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ZfNet(nn.Module):
    """models/src/zfnet.rs: torchvision's AlexNet layout (so the same `features.<i>` and
    `classifier.<i>` keys) with ZF Net's 7x7/2 first layer, 96 filters, and ceil-mode pools."""

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 7, 2, 1),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, ceil_mode=True),  # 110 → 55
            nn.Conv2d(96, 256, 5, 2, 0),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, ceil_mode=True),  # 26 → 13
            nn.Conv2d(256, 384, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(384, 384, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),  # 13 → 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def _replace_first_conv(model, in_channels):
    """Rebuilds the first Conv2d of a torchvision model for `in_channels` input channels."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                if child.in_channels != in_channels:
                    setattr(
                        parent,
                        name,
                        nn.Conv2d(
                            in_channels,
                            child.out_channels,
                            child.kernel_size,
                            child.stride,
                            child.padding,
                            child.dilation,
                            child.groups,
                            child.bias is not None,
                        ),
                    )
                return model
    raise ValueError("model has no Conv2d")


def create(name, num_classes=None, in_channels=None, aux_logits=None):
    """Any zoo model by its registry name, with the registry's defaults where an option is None.
    `aux_logits` applies to googlenet (zoo default: off, torchvision's: on) and inception_v3 (on)."""
    if name not in DEFAULTS:
        close = fnmatch.filter(MODEL_NAMES, f"*{name}*")
        raise ValueError(f"unknown model {name!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    (default_c, _, _), default_classes = DEFAULTS[name]
    num_classes = num_classes or default_classes
    in_channels = in_channels or default_c
    if name == "lenet5":
        return LeNet5(num_classes, in_channels)
    if name == "zfnet":
        return ZfNet(num_classes, in_channels)
    if name.startswith("resnet") and int(name[6:]) in CIFAR_DEPTHS:
        return CifarResNet(int(name[6:]), num_classes, in_channels)
    import torchvision  # only needed for its own models

    kwargs = {}
    if name in ZOO_AUX_LOGITS:
        # init_weights=True is torchvision's default for these, stated to silence its warning.
        kwargs = {"aux_logits": ZOO_AUX_LOGITS[name] if aux_logits is None else aux_logits, "init_weights": True}
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes, **kwargs)
    return _replace_first_conv(model, in_channels) if in_channels != 3 else model


def list_models(patterns):
    """Registry names matching any of the comma-separated fnmatch patterns, in registry order."""
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    unknown = [p for p in pats if not fnmatch.filter(MODEL_NAMES, p)]
    if unknown:
        raise ValueError(f"no model matches {', '.join(unknown)}")
    return [m for m in MODEL_NAMES if any(fnmatch.fnmatchcase(m, p) for p in pats)]


def count_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model, input_shape):
    """Forward multiply-accumulates per image of `model` at `input_shape` (C, H, W).

    Counts Conv2d (output elements x in_channels/groups x kh x kw) and Linear (in x out) only;
    BatchNorm, pooling, activations and residual adds are left out. That is torchvision's
    published "GFLOPS" convention and what the Rust summary (models/src/summary.rs) counts.
    """
    macs = 0

    def conv_hook(m, _inputs, out):
        nonlocal macs
        kh, kw = m.kernel_size
        macs += out[0].numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, _inputs, out):
        nonlocal macs
        macs += m.in_features * m.out_features

    hooks = [
        m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return macs


# Trainable parameters of the Rust zoo with default options (models/tests/models.rs).
EXPECTED_PARAMS = {
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "zfnet": 62_357_608,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    # Without the auxiliary classifiers (13,004,888 with them), as the zoo's default.
    "googlenet": 6_624_904,
    "inception_v3": 27_161_264,
    "densenet121": 7_978_856,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}
# GMACs per image at the default input as `zoo list` prints them (README.md), 4 significant digits.
EXPECTED_GMACS = {"lenet5": 0.0004165, "zfnet": 1.168, "resnet20": 0.04055, "alexnet": 0.7142, "resnet18": 1.814}


def _self_check():
    assert MODEL_NAMES == list(EXPECTED_PARAMS), "registry order"
    for name, expected in EXPECTED_PARAMS.items():
        model = create(name)
        got = count_params(model)
        assert got == expected, f"{name}: {got} parameters, expected {expected}"
        line = f"{name:10} {got:>12,} params"
        if name in EXPECTED_GMACS:
            gmacs = count_macs(model, DEFAULTS[name][0]) / 1e9
            assert abs(gmacs / EXPECTED_GMACS[name] - 1) < 1e-3, f"{name}: {gmacs} GMACs"
            line += f"  {gmacs:.5g} GMACs"
        print(line + "  ok")
        del model
    for name in ("lenet5", "resnet20", "resnet110"):
        c, h, w = DEFAULTS[name][0]
        with torch.inference_mode():
            out = create(name).eval()(torch.zeros(2, c, h, w))
        assert out.shape == (2, DEFAULTS[name][1]), f"{name}: output {tuple(out.shape)}"
    # ZF Net's feature maps must follow the paper's 110 → 55 → 26 → 13 → 6.
    x = torch.zeros(1, 3, 224, 224)
    sizes = []
    with torch.inference_mode():
        for layer in create("zfnet").features:
            x = layer(x)
            if not isinstance(layer, nn.ReLU):
                sizes.append(x.shape[-1])
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6], sizes
    assert create("lenet5", in_channels=3).conv1.in_channels == 3
    assert create("resnet18", num_classes=10, in_channels=1).conv1.in_channels == 1
    print("all checks passed")


if __name__ == "__main__":
    _self_check()
