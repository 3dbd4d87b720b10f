#!/usr/bin/env bash
# Download a dataset by hand, with the same sources and checksums as `--download`.
# Usage: datasets/fetch.sh mnist|fashion-mnist|cifar10|cifar100 [root=data]
set -euo pipefail
name=${1:?usage: fetch.sh mnist|fashion-mnist|cifar10|cifar100 [root]}
root=${2:-data}

get() { # url file md5
  if [ -f "$2" ] && [ "$(md5sum "$2" | cut -d' ' -f1)" = "$3" ]; then echo "ok   $2"; return; fi
  curl -fL --retry 2 -o "$2.part" "$1"
  sum=$(md5sum "$2.part" | cut -d' ' -f1)
  if [ "$sum" != "$3" ]; then rm -f "$2.part"; echo "checksum mismatch for $2: $sum, expected $3" >&2; exit 1; fi
  mv "$2.part" "$2"; echo "got  $2"
}

case "$name" in
  mnist)
    mkdir -p "$root/mnist" && cd "$root/mnist"
    base=https://ossci-datasets.s3.amazonaws.com/mnist/
    get ${base}train-images-idx3-ubyte.gz train-images-idx3-ubyte.gz f68b3c2dcbeaaa9fbdd348bbdeb94873
    get ${base}train-labels-idx1-ubyte.gz train-labels-idx1-ubyte.gz d53e105ee54ea40749a09fcbcd1e9432
    get ${base}t10k-images-idx3-ubyte.gz t10k-images-idx3-ubyte.gz 9fb629c4189551a2d022fa330f9573f3
    get ${base}t10k-labels-idx1-ubyte.gz t10k-labels-idx1-ubyte.gz ec29112dd5afa0611ce80d1b7f02629c ;;
  fashion-mnist)
    mkdir -p "$root/fashion-mnist" && cd "$root/fashion-mnist"
    base=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/
    get ${base}train-images-idx3-ubyte.gz train-images-idx3-ubyte.gz 8d4fb7e6c68d591d4c3dfef9ec88bf0d
    get ${base}train-labels-idx1-ubyte.gz train-labels-idx1-ubyte.gz 25c81989df183df01b3e8a0aad5dffbe
    get ${base}t10k-images-idx3-ubyte.gz t10k-images-idx3-ubyte.gz bef4ecab320f06d8554ea6380940ec79
    get ${base}t10k-labels-idx1-ubyte.gz t10k-labels-idx1-ubyte.gz bb300cfdad3c16e7a12a480ee83cd310 ;;
  cifar10)
    mkdir -p "$root/cifar10" && cd "$root/cifar10"
    get https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz cifar-10-binary.tar.gz c32a1d4ab5d03f1284b67883e8d87530
    tar xzf cifar-10-binary.tar.gz ;;
  cifar100)
    mkdir -p "$root/cifar100" && cd "$root/cifar100"
    get https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz cifar-100-binary.tar.gz 03b5dce01913d631647c71ecec9e9cb8
    tar xzf cifar-100-binary.tar.gz ;;
  *) echo "unknown dataset $name (mnist, fashion-mnist, cifar10, cifar100)" >&2; exit 2 ;;
esac
