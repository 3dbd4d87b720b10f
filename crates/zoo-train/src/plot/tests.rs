//! The charts' sizes, atomic writes and errors.

use std::path::Path;

use super::canvas::ticks;
use super::*;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Width and height from the IHDR chunk, which always comes first.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes[..8], PNG_SIGNATURE);
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn point(epoch: usize, split: &str, loss: f64, top1: f64) -> CurvePoint {
    CurvePoint { epoch, split: split.into(), loss, top1 }
}

#[test]
fn curves_for_several_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.png");
    let points: Vec<_> = (1..=3)
        .flat_map(|e| {
            let e_f = e as f64;
            [point(e, "train", 2.0 / e_f, 40.0 + 15.0 * e_f), point(e, "valid", 2.2 / e_f, 35.0 + 14.0 * e_f)]
        })
        .collect();
    draw_curves(&points, "lenet5 on synth-digits", &path).unwrap();
    assert_eq!(png_size(&path), (1200, 500));
    // A blank white 1200x500 PNG deflates to a few KB; text, axes and lines take far more.
    assert!(std::fs::metadata(&path).unwrap().len() > 20_000);
    // Only the final file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["curves.png"]);
}

#[test]
fn curves_for_one_point_none_and_nan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.png");
    draw_curves(&[point(1, "train", 0.7, 81.5)], "one epoch", &path).unwrap();
    assert_eq!(png_size(&path), (1200, 500));
    draw_curves(&[], "no epochs", &path).unwrap();
    assert_eq!(png_size(&path), (1200, 500));
    draw_curves(&[point(1, "valid", f64::NAN, f64::NAN)], "unknown values", &path).unwrap();
}

#[test]
fn confusion_is_square() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion.png");
    let names: Vec<String> = (0..10).map(|i| format!("digit {i}")).collect();
    let matrix: Vec<Vec<u64>> =
        (0..10).map(|t| (0..10).map(|p| if t == p { 90 + t as u64 } else { (t * p % 7) as u64 }).collect()).collect();
    draw_confusion(&matrix, &names, "lenet5 on synth-digits (valid)", &path).unwrap();
    let (w, h) = png_size(&path);
    assert_eq!(w, h);
    assert!(w >= 500);
}

#[test]
fn confusion_of_many_classes_and_of_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion.png");
    let names: Vec<String> = (0..100).map(|i| format!("class{i}")).collect();
    let matrix: Vec<Vec<u64>> = (0..100).map(|t| (0..100).map(|p| u64::from(t == p) * 50 + 1).collect()).collect();
    draw_confusion(&matrix, &names, "100 classes", &path).unwrap();
    assert_eq!(png_size(&path), (2000, 2000));
    draw_confusion(&[], &[], "no classes", &path).unwrap();
    assert_eq!(png_size(&path), (500, 500));
}

#[test]
fn errors_are_returned() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("curves.png");
    let err = draw_curves(&[point(1, "train", 1.0, 50.0)], "t", &missing).unwrap_err();
    assert!(err.to_string().starts_with("cannot draw"), "{err}");
    let names = vec!["a".to_string(), "b".to_string()];
    assert!(draw_confusion(&[vec![1, 2], vec![3, 4]], &names, "t", &missing).is_err());
    let ragged = [vec![1, 2], vec![3]];
    assert!(draw_confusion(&ragged, &names, "t", &dir.path().join("c.png")).is_err());
}

#[test]
fn ticks_use_round_steps() {
    assert_eq!(ticks(1, 1, 10), [1]);
    assert_eq!(ticks(1, 5, 10), [1, 2, 3, 4, 5]);
    assert_eq!(ticks(1, 40, 10), [5, 10, 15, 20, 25, 30, 35, 40]);
    assert_eq!(ticks(0, 99, 15), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
}
