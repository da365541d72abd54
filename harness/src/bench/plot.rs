//! The percentile spectrum of every path in one SVG picture: latency (log scale) against
//! percentile, the x axis stretched as `1 / (1 − p)` so that 99 %, 99.9 % and 99.99 % are as
//! far apart as 0 %, 90 % and 99 % (HdrHistogram's usual plot). One line per path, the
//! round with the median p99.

use super::report::BenchReport;
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// The x axis ends at 99.9999 % (100 % is drawn there too).
const X_NINES: f64 = 6.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

fn x_of(percentile: f64) -> f64 {
    let nines = if percentile >= 100.0 {
        X_NINES
    } else {
        (-(1.0 - percentile / 100.0).log10()).min(X_NINES)
    };
    LEFT + nines / X_NINES * (WIDTH - LEFT - RIGHT)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document.
pub fn spectrum_svg(report: &BenchReport) -> String {
    // One series per path: the round whose p99 is the median of that path's rounds.
    let mut series: Vec<(String, Vec<(f64, u64)>)> = Vec::new();
    for path in &report.config.paths {
        let mut runs: Vec<_> = report
            .runs
            .iter()
            .filter(|r| &r.path == path && !r.figures.spectrum.is_empty())
            .collect();
        runs.sort_by_key(|r| r.figures.latency_us.p99);
        if let Some(run) = runs.get(runs.len() / 2) {
            series.push((path.clone(), run.figures.spectrum.clone()));
        }
    }
    let values = series.iter().flat_map(|(_, s)| s.iter().map(|(_, v)| *v));
    let lo = values.clone().min().unwrap_or(1).max(1) as f64;
    let hi = values.max().unwrap_or(1000).max(2) as f64;
    let (lo_exp, hi_exp) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let y_of = |us: u64| {
        let v = (us.max(1) as f64).log10();
        TOP + (1.0 - (v - lo_exp) / (hi_exp - lo_exp)) * (HEIGHT - TOP - BOTTOM)
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let c = &report.config;
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="14">{}</text>"#,
        escape(&format!(
            "Latency by percentile: tollgate bench `{}`, {} loop{}, {} connections{}",
            c.topology,
            c.mode,
            c.rate.map_or(String::new(), |r| format!(" at {r:.0}/s")),
            c.connections,
            if c.mode == "closed" {
                " (coordinated omission)"
            } else {
                ""
            }
        ))
    );
    // Axes and grid.
    let bottom = HEIGHT - BOTTOM;
    let right = WIDTH - RIGHT;
    let _ = writeln!(
        svg,
        r##"<path d="M{LEFT} {TOP} V{bottom} H{right}" stroke="black" fill="none"/>"##
    );
    let mut exp = lo_exp;
    while exp <= hi_exp {
        let us = 10f64.powf(exp) as u64;
        let y = y_of(us);
        let label = if us >= 1000 {
            format!("{} ms", us / 1000)
        } else {
            format!("{us} µs")
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            LEFT - 6.0,
            y + 4.0
        );
        exp += 1.0;
    }
    for (p, label) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
        (99.999, "99.999%"),
        (99.9999, "99.9999%"),
    ] {
        let x = x_of(p);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"##,
            bottom + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        (LEFT + right) / 2.0,
        HEIGHT - 10.0
    );
    for (i, (path, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let d: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(k, (p, us))| {
                format!(
                    "{}{:.1} {:.1}",
                    if k == 0 { "M" } else { "L" },
                    x_of(*p),
                    y_of(*us)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<path d="{}" stroke="{colour}" stroke-width="2" fill="none"/>"#,
            d.join(" ")
        );
        let y = TOP + 10.0 + i as f64 * 18.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            right + 12.0,
            right + 32.0,
            right + 38.0,
            y + 4.0,
            escape(path)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::generator::Figures;
    use crate::bench::report::{Config, Run};

    #[test]
    fn every_path_is_a_line_and_the_axes_are_labelled() {
        let run = |path: &str, scale: u64| Run {
            path: path.into(),
            round: 0,
            order: 0,
            figures: Figures {
                spectrum: vec![
                    (0.0, 100 * scale),
                    (50.0, 200 * scale),
                    (100.0, 5000 * scale),
                ],
                ..Figures::default()
            },
            sut_cpu_us_per_request: None,
            rss_kb: None,
            wrk_rate: None,
        };
        let report = BenchReport {
            config: Config {
                paths: vec!["direct".into(), "gateway".into()],
                mode: "open".into(),
                ..Config::default()
            },
            runs: vec![run("direct", 1), run("gateway", 3)],
            ..BenchReport::default()
        };
        let svg = spectrum_svg(&report);
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
        assert!(svg.contains(">gateway</text>") && svg.contains(">99.9%</text>"));
        assert!(svg.contains(">10 ms</text>"), "{svg}");
    }
}
