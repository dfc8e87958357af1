//! The monitor's metrics in the Prometheus text exposition format (version 0.0.4), for
//! node_exporter's textfile collector or a scrape endpoint.

use std::fmt::Write as _;

use super::Snapshot;

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Renders a snapshot; `model` becomes the `model` label of every sample.
pub fn render(snapshot: &Snapshot, model: &str) -> String {
    let labels = format!("model=\"{}\"", escape(model));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP edgeclip_monitor_{name} {help}");
        let _ = writeln!(out, "# TYPE edgeclip_monitor_{name} {kind}");
        for (extra, v) in samples {
            let sep = if extra.is_empty() { "" } else { "," };
            let _ = writeln!(
                out,
                "edgeclip_monitor_{name}{{{labels}{sep}{extra}}} {}",
                number(*v)
            );
        }
    };
    let s = snapshot;
    metric(
        "frames_total",
        "counter",
        "Frames scored.",
        &[("", s.frames as f64)],
    );
    metric(
        "skipped_total",
        "counter",
        "Unreadable frames skipped.",
        &[("", s.skipped as f64)],
    );
    metric(
        "window_frames",
        "gauge",
        "Frames in the estimate window.",
        &[("", s.window_frames as f64)],
    );
    metric(
        "atc_accuracy",
        "gauge",
        "ATC accuracy estimate over the window, with its 95% interval.",
        &[
            ("bound=\"estimate\"", s.atc_accuracy),
            ("bound=\"uncapped\"", s.atc_uncapped),
            ("bound=\"low\"", s.atc_low),
            ("bound=\"high\"", s.atc_high),
        ],
    );
    if let Some(doc) = s.doc_accuracy {
        metric(
            "doc_accuracy",
            "gauge",
            "DoC accuracy estimate over the window.",
            &[("", doc)],
        );
    }
    metric(
        "detector_statistic",
        "gauge",
        "Current statistic of each drift detector.",
        &[
            ("detector=\"cusum\"", s.cusum),
            ("detector=\"page_hinkley\"", s.page_hinkley),
            ("detector=\"chi_square\"", s.chi_square),
        ],
    );
    metric(
        "detector_threshold",
        "gauge",
        "Alarm threshold of each drift detector.",
        &[
            ("detector=\"cusum\"", s.cusum_threshold),
            ("detector=\"page_hinkley\"", s.page_hinkley_threshold),
            ("detector=\"chi_square\"", s.chi_square_critical),
        ],
    );
    metric(
        "alarms_total",
        "counter",
        "Alarms raised by each drift detector.",
        &[
            ("detector=\"cusum\"", s.alarms.cusum as f64),
            ("detector=\"page_hinkley\"", s.alarms.page_hinkley as f64),
            ("detector=\"chi_square\"", s.alarms.chi_square as f64),
        ],
    );
    metric(
        "last_alarm_frame",
        "gauge",
        "Frame number of the last alarm (0: none yet).",
        &[("", s.last_alarm.unwrap_or(0) as f64)],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::Alarms;
    use super::*;

    #[test]
    fn every_sample_line_parses_as_name_labels_value() {
        let snap = Snapshot {
            frames: 10,
            skipped: 1,
            window_frames: 10,
            atc_accuracy: 0.9,
            atc_uncapped: 0.92,
            atc_low: 0.6,
            atc_high: 0.98,
            doc_accuracy: None,
            cusum: 0.5,
            cusum_threshold: 6.0,
            page_hinkley: f64::NAN,
            page_hinkley_threshold: 3.0,
            chi_square: 0.0,
            chi_square_critical: 30.0,
            alarms: Alarms {
                cusum: 2,
                page_hinkley: 0,
                chi_square: 1,
            },
            last_alarm: Some(7),
        };
        let text = render(&snap, "we\"ird\\name");
        assert!(text.contains("edgeclip_monitor_frames_total{model=\"we\\\"ird\\\\name\"} 10\n"));
        assert!(text.contains(
            "edgeclip_monitor_alarms_total{model=\"we\\\"ird\\\\name\",detector=\"cusum\"} 2\n"
        ));
        assert!(!text.contains("doc_accuracy"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("value");
            assert!(
                series.starts_with("edgeclip_monitor_") && series.ends_with('}'),
                "{line}"
            );
            assert!(value == "NaN" || value.parse::<f64>().is_ok(), "{line}");
        }
        // Every metric has HELP and TYPE.
        assert_eq!(
            text.matches("# HELP").count(),
            text.matches("# TYPE").count()
        );
    }
}
