//! `synth-digits`: an embedded, procedurally rendered digit dataset that needs no file.
//!
//! Each digit is a set of strokes (polylines, arcs and Bézier curves) in one of several writing
//! styles (a `1` with or without flag and base, an open or closed `4`, a `7` with or without a
//! bar, a straight or curved tail on the `9`, ...). The strokes are bent by a smooth random
//! displacement field, scaled, stretched, slanted, rotated and moved, then rasterised with
//! anti-aliasing at a random stroke width, on a background of random level with Gaussian noise
//! and, sometimes, a distracting stray stroke or speckles. Everything is a pure function of
//! `(seed, split, index)`: nothing is stored, an item is rendered when it is read (all 70,000
//! items take about 4.5 s on one core in the opt-level-1 dev profile, file writing included).

use crate::Split;
use crate::dataset::{Dataset, Item, check_index};
use crate::error::Result;
use crate::imagebuf::Image;
use crate::rng::Rng;

/// Side of the square synth-digits images.
pub const SYNTH_SIZE: usize = 32;
/// Number of training items.
pub const SYNTH_TRAIN_LEN: usize = 60_000;
/// Number of test items.
pub const SYNTH_TEST_LEN: usize = 10_000;
/// The seed used by [`SynthDigits::new`]; the published dataset is this seed.
pub const SYNTH_DEFAULT_SEED: u64 = 0x2D16_1775;

type Pt = (f32, f32);
type Stroke = Vec<Pt>;

/// Points of an elliptical arc centred on `(cx, cy)` from angle `a0` to `a1` (degrees; 0 = right,
/// 90 = down since y grows downwards).
fn arc(cx: f32, cy: f32, rx: f32, ry: f32, a0: f32, a1: f32) -> Stroke {
    let n = (((a1 - a0).abs() / 15.0).ceil() as usize).max(2);
    (0..=n)
        .map(|i| {
            let t = (a0 + (a1 - a0) * i as f32 / n as f32).to_radians();
            (cx + rx * t.cos(), cy + ry * t.sin())
        })
        .collect()
}

/// Points of a quadratic Bézier curve.
fn bez(p0: Pt, p1: Pt, p2: Pt) -> Stroke {
    let n = 8;
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            (u * u * p0.0 + 2.0 * u * t * p1.0 + t * t * p2.0, u * u * p0.1 + 2.0 * u * t * p1.1 + t * t * p2.1)
        })
        .collect()
}

/// The strokes of `digit` in style `style` (any u64; reduced modulo the number of styles), in
/// glyph units: the glyph spans y in [-0.5, 0.5] and x in about [-0.3, 0.3].
fn glyph(digit: usize, style: u64, r: &mut Rng) -> Vec<Stroke> {
    // Small per-glyph shape parameters make every style a continuum rather than a template.
    let mut v = |lo: f32, hi: f32| r.uniform(lo, hi);
    match digit {
        0 => {
            let rx = v(0.22, 0.32);
            match style % 2 {
                0 => vec![arc(0.0, 0.0, rx, 0.5, -90.0, 270.0)],
                // Not quite closed, with an overlap at the top as when written fast.
                _ => vec![arc(0.0, 0.0, rx, 0.5, -120.0, 250.0)],
            }
        }
        1 => {
            let stem = vec![(0.0, -0.5), (v(-0.05, 0.05), 0.5)];
            match style % 3 {
                0 => vec![stem],
                1 => vec![vec![(v(-0.25, -0.12), v(-0.35, -0.22)), (0.0, -0.5)], stem],
                _ => vec![vec![(v(-0.25, -0.12), v(-0.35, -0.22)), (0.0, -0.5)], stem, vec![(-0.18, 0.5), (0.18, 0.5)]],
            }
        }
        2 => {
            let r0 = v(0.24, 0.3);
            let mut top = arc(0.0, -0.5 + r0, r0, r0, 180.0 + v(0.0, 20.0), 385.0);
            let end = *top.last().unwrap_or(&(0.2, -0.2));
            match style % 2 {
                0 => {
                    top.extend([(-0.28, 0.5), (0.3, 0.5)]);
                    vec![top]
                }
                _ => {
                    // Curved neck and a small loop at the bottom left.
                    let mut s = top;
                    s.extend(bez(end, (0.0, 0.25), (-0.28, 0.45)));
                    s.extend(arc(-0.2, 0.42, 0.08, 0.08, 180.0, 450.0));
                    s.push((0.3, 0.5));
                    vec![s]
                }
            }
        }
        3 => {
            let lower = arc(0.0, 0.24, v(0.25, 0.3), 0.26, -90.0, 160.0);
            match style % 2 {
                0 => vec![arc(0.0, -0.26, v(0.2, 0.26), 0.24, 200.0, 450.0), lower],
                _ => vec![vec![(-0.25, -0.5), (0.25, -0.5), (0.0, -0.04)], lower],
            }
        }
        4 => {
            let bar = v(0.1, 0.25);
            match style % 2 {
                0 => vec![vec![(0.1, 0.5), (0.1, -0.5), (-0.3, bar), (0.3, bar)]],
                _ => vec![vec![(-0.2, -0.5), (-0.28, bar), (0.3, bar)], vec![(0.12, -0.3), (0.12, 0.5)]],
            }
        }
        5 => {
            let mut s = vec![(0.25, -0.5), (-0.2, -0.5), (-0.24, -0.08)];
            s.extend(arc(0.0, 0.18, v(0.26, 0.31), 0.32, -130.0, 150.0));
            match style % 2 {
                0 => vec![s],
                // The top bar written as a separate stroke.
                _ => vec![s[1..].to_vec(), vec![(-0.2, -0.5), (0.28, -0.52)]],
            }
        }
        6 => {
            let mut s = bez((0.22, -0.5), (v(-0.4, -0.25), -0.3), (-0.27, 0.22));
            match style % 2 {
                0 => s.extend(arc(0.0, 0.22, 0.27, 0.28, 180.0, 540.0)),
                _ => s.extend(arc(0.02, 0.25, 0.25, 0.25, 180.0, 500.0)),
            }
            vec![s]
        }
        7 => {
            let foot = (v(-0.15, 0.0), 0.5);
            let stroke = match style % 2 {
                0 => vec![(-0.3, -0.5), (0.3, -0.5), foot],
                _ => {
                    let mut s = vec![(-0.3, -0.5), (0.3, -0.5)];
                    s.extend(bez((0.3, -0.5), (0.0, 0.0), foot));
                    s
                }
            };
            if style / 2 % 2 == 1 { vec![stroke, vec![(-0.12, 0.0), (0.22, 0.0)]] } else { vec![stroke] }
        }
        8 => {
            let ry = v(0.22, 0.26);
            match style % 2 {
                0 => vec![
                    arc(0.0, -0.5 + ry, v(0.18, 0.24), ry, 0.0, 360.0),
                    arc(0.0, ry - 0.02, 0.27, 0.5 - ry, 0.0, 360.0),
                ],
                // Written as one figure-of-eight stroke.
                _ => {
                    let mut s = arc(0.0, -0.26, 0.21, 0.24, 60.0, -240.0);
                    s.extend(arc(0.0, 0.24, 0.27, 0.26, -60.0, 240.0));
                    s.push(s[0]);
                    vec![s]
                }
            }
        }
        _ => {
            let ry = v(0.24, 0.3);
            let cy = -0.5 + ry;
            let head = arc(0.0, cy, 0.27, ry, 0.0, 360.0);
            match style % 2 {
                0 => vec![head, vec![(0.27, cy), (v(0.15, 0.27), 0.5)]],
                _ => vec![head, bez((0.27, cy), (0.27, 0.4), (-0.2, 0.5))],
            }
        }
    }
}

/// Renders digit `label` from the random stream `r` (the same stream gives the same image).
fn render(label: usize, r: &mut Rng) -> Vec<f32> {
    let style = r.next_u64() % 4;
    let mut strokes = glyph(label, style, r);

    // A smooth random displacement field (two sinusoids per axis) bends the strokes.
    let amp = r.uniform(0.0, 0.06);
    let (f1, f2, p1, p2) = (r.uniform(2.0, 6.0), r.uniform(2.0, 6.0), r.uniform(0.0, 6.3), r.uniform(0.0, 6.3));
    let (g1, g2, q1, q2) = (r.uniform(2.0, 6.0), r.uniform(2.0, 6.0), r.uniform(0.0, 6.3), r.uniform(0.0, 6.3));

    // Geometry: height of the glyph in pixels, width stretch, slant, rotation, position.
    let n = SYNTH_SIZE as f32;
    let height = r.uniform(0.45, 0.82) * n;
    let stretch = r.uniform(0.75, 1.3);
    let slant = r.uniform(-0.35, 0.35);
    let angle = r.uniform(-25.0, 25.0).to_radians();
    let (sin, cos) = angle.sin_cos();
    let width = 0.62 * height * stretch + height * slant.abs() * 0.5;
    let mx = ((n - width) / 2.0 - 1.0).max(0.0);
    let my = ((n - height) / 2.0 - 1.0).max(0.0);
    let cx = n / 2.0 + r.uniform(-mx, mx);
    let cy = n / 2.0 + r.uniform(-my, my);

    for s in strokes.iter_mut() {
        for p in s.iter_mut() {
            let (x, y) = *p;
            let x = x + amp * ((f1 * y + p1).sin() + 0.5 * (f2 * x + p2).sin());
            let y = y + amp * ((g1 * x + q1).sin() + 0.5 * (g2 * y + q2).sin());
            let x = (x + slant * y) * height * stretch;
            let y = y * height;
            *p = (cx + x * cos - y * sin, cy + x * sin + y * cos);
        }
    }

    // Distractors: a faint stray stroke, or speckles, on some images.
    let distractor = r.below(10);
    if distractor < 3 {
        let (x0, y0) = (r.uniform(0.0, n), r.uniform(0.0, n));
        let (dx, dy) = (r.uniform(-8.0, 8.0), r.uniform(-8.0, 8.0));
        strokes.push(vec![(x0, y0), (x0 + dx, y0 + dy)]);
    }

    let half_width = r.uniform(0.65, 1.9);
    let mut cov = vec![0f32; SYNTH_SIZE * SYNTH_SIZE];
    let last_is_stray = distractor < 3;
    let n_strokes = strokes.len();
    for (si, s) in strokes.iter().enumerate() {
        let (hw, weight) = if last_is_stray && si == n_strokes - 1 { (0.6, 0.7) } else { (half_width, 1.0) };
        for seg in s.windows(2) {
            draw_segment(&mut cov, seg[0], seg[1], hw, weight);
        }
    }

    let bg = r.uniform(0.0, 0.2);
    let ink = r.uniform(0.6, 1.0);
    let sigma = r.uniform(0.0, 0.15);
    let speckles = distractor == 3;
    let mut out = Vec::with_capacity(cov.len());
    for &c in &cov {
        let mut v = bg + (ink - bg) * c + sigma * r.normal();
        if speckles && r.chance(0.02) {
            v = r.uniform(0.4, 0.9);
        }
        // Quantise to bytes like a real image file, so that exports round-trip exactly.
        out.push((v.clamp(0.0, 1.0) * 255.0).round() / 255.0);
    }
    out
}

/// Adds an anti-aliased segment of half-width `hw` to the coverage map (max blending).
fn draw_segment(cov: &mut [f32], a: Pt, b: Pt, hw: f32, weight: f32) {
    let n = SYNTH_SIZE as i32;
    let pad = hw + 1.0;
    let x0 = ((a.0.min(b.0) - pad).floor() as i32).max(0);
    let x1 = ((a.0.max(b.0) + pad).ceil() as i32).min(n - 1);
    let y0 = ((a.1.min(b.1) - pad).floor() as i32).max(0);
    let y1 = ((a.1.max(b.1) + pad).ceil() as i32).min(n - 1);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (px, py) = (x as f32 + 0.5 - a.0, y as f32 + 0.5 - a.1);
            let t = if len2 > 0.0 { ((px * dx + py * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let c = ((hw + 0.5 - d).clamp(0.0, 1.0)) * weight;
            let i = (y * n + x) as usize;
            if c > cov[i] {
                cov[i] = c;
            }
        }
    }
}

/// The embedded `synth-digits` dataset: 32x32 grey digits rendered on demand.
///
/// 60,000 training and 10,000 test items; each block of ten consecutive indices holds each digit
/// exactly once (in a seeded order), so every class has exactly a tenth of the items.
///
/// ```
/// use zoo_data::{Dataset, Split, SynthDigits};
/// let train = SynthDigits::new(Split::Train);
/// assert_eq!((train.len(), train.num_classes()), (60_000, 10));
/// let a = train.get(123).unwrap();
/// assert_eq!(a, SynthDigits::new(Split::Train).get(123).unwrap()); // deterministic
/// ```
#[derive(Debug, Clone)]
pub struct SynthDigits {
    split: Split,
    len: usize,
    seed: u64,
    classes: Vec<String>,
}

impl SynthDigits {
    /// Whether `name` names this dataset (`synth-digits`, `synth_digits`, `synth`).
    pub fn is_name(name: &str) -> bool {
        matches!(name, "synth-digits" | "synth_digits" | "synth")
    }

    /// The standard dataset: [`SYNTH_TRAIN_LEN`] or [`SYNTH_TEST_LEN`] items, default seed.
    pub fn new(split: Split) -> Self {
        let len = match split {
            Split::Train => SYNTH_TRAIN_LEN,
            Split::Test => SYNTH_TEST_LEN,
        };
        Self::with_len(split, len, SYNTH_DEFAULT_SEED)
    }

    /// A variant with another length or seed (for quick experiments and tests).
    pub fn with_len(split: Split, len: usize, seed: u64) -> Self {
        Self { split, len, seed, classes: (0..10).map(|d| d.to_string()).collect() }
    }

    /// The label of item `index` (cheap: no rendering).
    pub fn label(&self, index: usize) -> usize {
        let block = (index / 10) as u64;
        let mut perm: [usize; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        Rng::from_key(&[self.seed, self.split_id(), block, 0x1abe1]).shuffle(&mut perm);
        perm[index % 10]
    }

    fn split_id(&self) -> u64 {
        match self.split {
            Split::Train => 1,
            Split::Test => 2,
        }
    }
}

impl Dataset for SynthDigits {
    fn len(&self) -> usize {
        self.len
    }
    fn get(&self, index: usize) -> Result<Item> {
        check_index(self, index)?;
        let label = self.label(index);
        let mut r = Rng::from_key(&[self.seed, self.split_id(), index as u64]);
        let data = render(label, &mut r);
        Ok(Item { image: Image::new(1, SYNTH_SIZE, SYNTH_SIZE, data)?, label })
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn name(&self) -> String {
        format!("synth-digits/{}", self.split.name())
    }
}
