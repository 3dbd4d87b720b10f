//! `report.html`: one page with the model's layer table and every picture, the PNGs in the
//! folder beside it, a little plain JavaScript to pick a stage and a channel, and nothing loaded
//! from a network. `visualize.json` holds the same facts for programs.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use zoo_models::ModelSummary;
use zoo_models::summary::{format_shape, group_digits};

use crate::VizError;
use crate::features::StageLabel;
use crate::top::Hit;

/// Everything a report shows; picture fields are paths relative to the report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Registry name of the model.
    pub model: String,
    /// Where the weights came from.
    pub weights: String,
    /// Model input `[C, H, W]`.
    pub input: [usize; 3],
    /// The layer table.
    pub layers: Vec<LayerRow>,
    /// The first convolution's kernels.
    pub filters: Option<FiltersSection>,
    /// A deeper convolution's kernels, one tile per input channel (up to 32 kernels).
    pub deeper_filters: Option<FiltersSection>,
    /// One section per image.
    pub images: Vec<ImageSection>,
    /// Top-activating patches, per stage.
    pub top: Vec<TopSection>,
}

/// One row of the layer table.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    /// Dotted name.
    pub name: String,
    /// Layer type.
    pub kind: String,
    /// Output shape, `CxHxW`.
    pub output: String,
    /// Trainable parameters.
    pub params: usize,
    /// Multiply-accumulates per image.
    pub macs: u64,
    /// Receptive field size, jump and start.
    pub receptive_field: [String; 3],
}

impl LayerRow {
    /// The rows of a summary.
    pub fn from_summary(summary: &ModelSummary) -> Vec<LayerRow> {
        summary
            .layers
            .iter()
            .map(|l| LayerRow {
                name: l.name.clone(),
                kind: l.kind.clone(),
                output: format_shape(&l.output_shape),
                params: l.params,
                macs: l.macs,
                receptive_field: [
                    l.receptive_field.size_label(),
                    // One unit has no neighbours, as in `zoo summary`.
                    if l.output_shape.len() == 3 { l.receptive_field.jump_label() } else { "-".into() },
                    l.receptive_field.start_label(),
                ],
            })
            .collect()
    }
}

/// A convolution's kernels.
#[derive(Debug, Clone, Serialize)]
pub struct FiltersSection {
    /// The layer.
    pub layer: String,
    /// `[K, C, kh, kw]`.
    pub shape: [usize; 4],
    /// The picture.
    pub picture: String,
}

/// The pictures of one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageSection {
    /// File name or `split #index`.
    pub name: String,
    /// The true class, when known.
    pub label: Option<String>,
    /// The top-1 class and its probability.
    pub predicted: (String, f32),
    /// The image as the model sees it (before normalisation).
    pub picture: String,
    /// Each stage's feature maps.
    pub stages: Vec<(StageLabel, String)>,
    /// `|d score / d pixel|` for the class explained.
    pub saliency: Option<String>,
    /// Grad-CAM at this stage, over the image.
    pub grad_cam: Option<(String, String)>,
    /// The occlusion map over the image, with the square's size and stride.
    pub occlusion: Option<OcclusionSection>,
    /// The class the attributions explain.
    pub explained: String,
}

/// An occlusion picture and how it was made.
#[derive(Debug, Clone, Serialize)]
pub struct OcclusionSection {
    /// The picture.
    pub picture: String,
    /// Square side.
    pub size: usize,
    /// Square step.
    pub stride: usize,
    /// The class's probability with nothing hidden.
    pub unoccluded: f32,
    /// The lowest probability with the square somewhere.
    pub lowest: f32,
}

/// The top patches of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct TopSection {
    /// Stage name.
    pub stage: String,
    /// Its receptive field, as `size / jump / start`.
    pub receptive_field: [String; 3],
    /// Images searched.
    pub images: usize,
    /// Seconds the search took.
    pub seconds: f64,
    /// Seconds the guided-backpropagation projections took, when made.
    pub projection_seconds: Option<f64>,
    /// One entry per channel.
    pub channels: Vec<TopChannel>,
}

/// One channel's top patches.
#[derive(Debug, Clone, Serialize)]
pub struct TopChannel {
    /// Channel index.
    pub channel: usize,
    /// The patches in a row, best first.
    pub picture: String,
    /// Their guided-backpropagation projections, in the same order and crops.
    pub projections: Option<String>,
    /// The hits the patches come from.
    pub hits: Vec<Hit>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn figure(out: &mut String, picture: &str, caption: &str) {
    let _ = write!(
        out,
        "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
        escape(picture),
        escape(caption),
        escape(caption)
    );
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}\
table{border-collapse:collapse;font-size:0.85em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}\
td.n,th.n{text-align:right}figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}\
img{image-rendering:pixelated;max-width:100%}figcaption{font-size:0.8em;color:#555;max-width:40em}\
section{margin-bottom:2em}.scroll{max-height:30em;overflow:auto;display:inline-block}";

// Every <select data-controls=G> shows the one element of group G whose data-value it holds.
const SCRIPT: &str = "function show(select){document.querySelectorAll('[data-group=\"'+select.dataset.controls+'\"]')\
.forEach(function(e){e.hidden=e.dataset.value!==select.value;});}\
document.querySelectorAll('select[data-controls]').forEach(function(s){s.addEventListener('change',function(){show(s);});show(s);});\
document.body.dataset.ready='yes';";

fn select(out: &mut String, group: &str, label: &str, options: &[(String, String)]) {
    let _ = write!(out, "<label>{} <select data-controls=\"{}\">", escape(label), escape(group));
    for (value, text) in options {
        let _ = write!(out, "<option value=\"{}\">{}</option>", escape(value), escape(text));
    }
    out.push_str("</select></label>");
}

impl Report {
    /// The page.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let title = format!("{}: what it learned", self.model);
        let _ = write!(
            out,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
            escape(&title)
        );
        let _ = write!(
            out,
            "<h1>{}</h1><p>Weights: {}. Input {}.</p>",
            escape(&title),
            escape(&self.weights),
            format_shape(&self.input)
        );

        out.push_str("<section><h2>Layers</h2><div class=\"scroll\"><table><tr><th>layer</th><th>kind</th><th>output</th><th class=\"n\">params</th><th class=\"n\">MACs</th><th class=\"n\">RF</th><th class=\"n\">jump</th><th class=\"n\">start</th></tr>");
        for l in &self.layers {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&l.name),
                escape(&l.kind),
                escape(&l.output),
                group_digits(l.params as u64),
                group_digits(l.macs),
                escape(&l.receptive_field[0]),
                escape(&l.receptive_field[1]),
                escape(&l.receptive_field[2])
            );
        }
        out.push_str("</table></div><p>RF: the input pixels one unit sees; jump: input pixels between neighbouring units; start: the centre of the first unit's field.</p></section>");

        if let Some(f) = &self.filters {
            out.push_str("<section><h2>Filters</h2>");
            let caption = format!(
                "{}: {} kernels of {}x{} over {} input channels, each stretched to its own range",
                f.layer, f.shape[0], f.shape[2], f.shape[3], f.shape[1]
            );
            figure(&mut out, &f.picture, &caption);
            if let Some(d) = &self.deeper_filters {
                let caption = format!(
                    "{}: one row per kernel (the first {} of {}), one grey tile per input channel ({}), {}x{} each",
                    d.layer,
                    d.shape[0].min(32),
                    d.shape[0],
                    d.shape[1],
                    d.shape[2],
                    d.shape[3]
                );
                figure(&mut out, &d.picture, &caption);
            }
            out.push_str("</section>");
        }

        for (i, image) in self.images.iter().enumerate() {
            let _ = write!(out, "<section><h2>Image: {}</h2><p>", escape(&image.name));
            if let Some(label) = &image.label {
                let _ = write!(out, "True class: {}. ", escape(label));
            }
            let _ = write!(
                out,
                "Predicted: {} ({:.1}%). The maps explain {}.</p>",
                escape(&image.predicted.0),
                100.0 * image.predicted.1,
                escape(&image.explained)
            );
            figure(&mut out, &image.picture, "input");
            if let Some(s) = &image.saliency {
                figure(&mut out, s, "saliency |d score / d pixel|");
            }
            if let Some((stage, picture)) = &image.grad_cam {
                figure(&mut out, picture, &format!("Grad-CAM at {stage}"));
            }
            if let Some(o) = &image.occlusion {
                let caption = format!(
                    "occlusion: class probability with a {}x{} grey square (stride {}) over each place; {:.1}% unoccluded, {:.1}% at the lowest",
                    o.size,
                    o.size,
                    o.stride,
                    100.0 * o.unoccluded,
                    100.0 * o.lowest
                );
                figure(&mut out, &o.picture, &caption);
            }
            if !image.stages.is_empty() {
                let group = format!("features-{i}");
                out.push_str("<h3>Feature maps</h3>");
                let options: Vec<(String, String)> =
                    image.stages.iter().map(|(l, _)| (l.stage.clone(), l.stage.clone())).collect();
                select(&mut out, &group, "stage", &options);
                for (label, picture) in &image.stages {
                    let _ =
                        write!(out, "<div data-group=\"{}\" data-value=\"{}\">", escape(&group), escape(&label.stage));
                    let caption = format!(
                        "{}: {}, values {:.3} to {:.3}{}",
                        label.stage,
                        format_shape(&label.shape),
                        label.min,
                        label.max,
                        if label.shown < label.shape[0] {
                            format!(", first {} channels shown", label.shown)
                        } else {
                            String::new()
                        }
                    );
                    figure(&mut out, picture, &caption);
                    out.push_str("</div>");
                }
            }
            out.push_str("</section>");
        }

        if !self.top.is_empty() {
            out.push_str("<section><h2>Top-activating patches</h2><p>For each channel, the images in which it responds most, each cropped at the receptive field of its strongest unit (grey checks: padding), as in Zeiler &amp; Fergus (2014), Fig. 2; under them, the same units projected back to the pixels by guided backpropagation (mid-grey: no gradient), the pattern that excites the unit.</p>");
            let options: Vec<(String, String)> = self.top.iter().map(|t| (t.stage.clone(), t.stage.clone())).collect();
            select(&mut out, "top", "stage", &options);
            for (s, section) in self.top.iter().enumerate() {
                let _ = write!(out, "<div data-group=\"top\" data-value=\"{}\">", escape(&section.stage));
                let _ = write!(
                    out,
                    "<p>{}: receptive field {} pixels, jump {}, start {}; {} images searched in {:.1} s{}.</p>",
                    escape(&section.stage),
                    escape(&section.receptive_field[0]),
                    escape(&section.receptive_field[1]),
                    escape(&section.receptive_field[2]),
                    section.images,
                    section.seconds,
                    match section.projection_seconds {
                        Some(seconds) => format!(", projections in {seconds:.2} s"),
                        None => String::new(),
                    }
                );
                let group = format!("top-{s}");
                let options: Vec<(String, String)> = section
                    .channels
                    .iter()
                    .map(|c| (c.channel.to_string(), format!("channel {}", c.channel)))
                    .collect();
                select(&mut out, &group, "channel", &options);
                for channel in &section.channels {
                    let _ = write!(out, "<div data-group=\"{}\" data-value=\"{}\">", escape(&group), channel.channel);
                    let values: Vec<String> = channel.hits.iter().map(|h| format!("{:.3}", h.value)).collect();
                    let caption = format!("channel {}: activations {}", channel.channel, values.join(", "));
                    figure(&mut out, &channel.picture, &caption);
                    if let Some(projections) = &channel.projections {
                        figure(
                            &mut out,
                            projections,
                            &format!("channel {}: guided-backpropagation projections", channel.channel),
                        );
                    }
                    out.push_str("</div>");
                }
                out.push_str("</div>");
            }
            out.push_str("</section>");
        }
        let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
        out
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), VizError> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)
        .and_then(|_| std::fs::rename(&partial, path))
        .map_err(|source| VizError::Io { path: path.to_path_buf(), source })
}

/// Writes `report.html` and `visualize.json` into `dir` (where the pictures already are).
pub fn write_report(report: &Report, dir: &Path) -> Result<(), VizError> {
    let json = serde_json::to_string_pretty(report)?;
    write_atomically(&dir.join("visualize.json"), &(json + "\n"))?;
    write_atomically(&dir.join("report.html"), &report.to_html())
}
