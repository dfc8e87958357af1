//! The self-check picture: one small panel per corruption, LFP and accuracy against
//! severity (0 = clean), as SVG.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::report::Report;

const PANEL_W: u32 = 260;
const PANEL_H: u32 = 190;
const COLS: usize = 4;
const HEADER: u32 = 56;

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the self-check plot: {e}")
}

/// Renders the report as an SVG document.
pub fn svg(report: &Report) -> Result<String> {
    let n = report.corruptions.len().max(1);
    let rows = n.div_ceil(COLS);
    let cols = n.min(COLS);
    let size = (PANEL_W * cols as u32, HEADER + PANEL_H * rows as u32);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (header, body) = root.split_vertically(HEADER);
        let title = format!(
            "edgeclip self-check: {} on {} ({} images, profile {}){}",
            report.model,
            report.data.display(),
            report.images,
            report.profile,
            if report.interrupted { ", partial" } else { "" }
        );
        header
            .draw_text(
                &title,
                &("sans-serif", 17).into_font().color(&BLACK),
                (10, 8),
            )
            .map_err(err)?;
        let mut legend = format!(
            "red = label-flip probability · mean LFP {:.1}% · worst: {} · {}",
            100.0 * report.summary.mean_lfp,
            report.summary.worst_corruption,
            if report.pass { "PASS" } else { "FAIL" }
        );
        if report.labelled {
            legend = format!("blue = accuracy · {legend}");
        }
        header
            .draw_text(
                &legend,
                &("sans-serif", 13).into_font().color(&BLACK),
                (10, 32),
            )
            .map_err(err)?;
        let panels = body.split_evenly((rows, cols));
        for (panel, corr) in panels.iter().zip(&report.corruptions) {
            let mut chart = ChartBuilder::on(panel)
                .caption(&corr.corruption, ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(22)
                .y_label_area_size(34)
                .build_cartesian_2d(-0.2f64..5.2f64, 0f64..100f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_labels(6)
                .y_labels(6)
                .x_label_formatter(&|x| {
                    if *x < 0.5 {
                        "clean".into()
                    } else {
                        format!("{x:.0}")
                    }
                })
                .y_label_formatter(&|y| format!("{y:.0}%"))
                .light_line_style(WHITE)
                .draw()
                .map_err(err)?;
            let mine: Vec<_> = report
                .cells
                .iter()
                .filter(|c| c.corruption == corr.corruption)
                .collect();
            let lfp: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
                .chain(mine.iter().map(|c| (c.severity as f64, 100.0 * c.lfp)))
                .collect();
            draw_line(&mut chart, &lfp, &RED)?;
            if let Some(clean) = report.clean.accuracy {
                let acc: Vec<(f64, f64)> = std::iter::once((0.0, 100.0 * clean))
                    .chain(
                        mine.iter()
                            .filter_map(|c| c.accuracy.map(|a| (c.severity as f64, 100.0 * a))),
                    )
                    .collect();
                draw_line(&mut chart, &acc, &BLUE)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn draw_line<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    points: &[(f64, f64)],
    colour: &RGBColor,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            colour.stroke_width(2),
        ))
        .map_err(err)?;
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::metrics::Thresholds;
    use super::super::report::*;
    use super::*;

    fn report(labelled: bool) -> Report {
        let cell = |corruption: &str, severity: u8, lfp: f64| CellReport {
            corruption: corruption.into(),
            severity,
            images: 10,
            lfp,
            accuracy: labelled.then_some(0.9 - lfp),
            accuracy_drop: labelled.then_some(lfp),
            mean_cosine: 0.9,
            mean_confidence_change: -0.1,
            mean_entropy_change: 0.2,
        };
        Report {
            schema: SCHEMA.into(),
            model: "m".into(),
            data: "d".into(),
            labelled,
            labels: vec!["a".into(), "b".into()],
            profile: "p".into(),
            seed: 0,
            threads: 1,
            images: 10,
            skipped: vec![],
            interrupted: false,
            elapsed_s: 1.0,
            clean: CleanSummary {
                accuracy: labelled.then_some(0.9),
                mean_confidence: 0.8,
                mean_entropy: 0.5,
            },
            cells: vec![
                cell("fog", 1, 0.1),
                cell("fog", 3, 0.4),
                cell("rain", 2, 0.2),
            ],
            corruptions: vec![
                CorruptionSummary {
                    corruption: "fog".into(),
                    mean_lfp: 0.25,
                    mean_accuracy: labelled.then_some(0.65),
                },
                CorruptionSummary {
                    corruption: "rain".into(),
                    mean_lfp: 0.2,
                    mean_accuracy: labelled.then_some(0.7),
                },
            ],
            summary: Summary {
                mean_lfp: 0.23,
                mean_corrupted_accuracy: None,
                relative_robustness: None,
                worst_corruption: "fog".into(),
                worst_lfp: 0.25,
            },
            thresholds: Thresholds::default(),
            checks: vec![],
            pass: true,
        }
    }

    #[test]
    fn draws_a_panel_per_corruption_with_both_lines_when_labelled() {
        let s = svg(&report(true)).unwrap();
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        let line = |t: &str| s.lines().any(|l| l.trim() == t);
        assert!(line("fog") && line("rain"), "captions");
        // A marker per point: clean plus each severity, for LFP and (labelled) accuracy.
        assert_eq!(s.matches("<circle").count(), 2 * (3 + 2));
        let s = svg(&report(false)).unwrap();
        assert_eq!(s.matches("<circle").count(), 3 + 2);
    }
}
