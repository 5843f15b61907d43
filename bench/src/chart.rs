//! The latency-against-offered-rate chart, as a PNG.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::steady::Step;

/// One line of the chart: its label, its steps, the value drawn, its colour.
type Series<'a> = (&'a str, &'a [Step], fn(&Step) -> f64, RGBColor);

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Draws p50 and p99 against offered rate for the chat and the echo ceiling.
pub fn draw(path: &Path, chat: &[Step], echo: &[Step]) -> anyhow::Result<()> {
    let font = std::fs::read(FONT)
        .with_context(|| format!("reading {FONT} (apt-get install fonts-dejavu-core)"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(font.into_boxed_slice()),
    )
    .map_err(|_| anyhow::anyhow!("the chart font did not load"))?;
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_rate = chat
        .iter()
        .chain(echo)
        .map(|s| s.offered_per_sec)
        .fold(1.0, f64::max);
    let max_ms = chat
        .iter()
        .chain(echo)
        .map(|s| s.p99_ms)
        .fold(1.0, f64::max)
        .min(200.0);
    let mut plot = ChartBuilder::on(&root)
        .caption(
            "send → receive latency against offered load",
            ("sans-serif", 24),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_rate * 1.05, 0.0..max_ms * 1.1)?;
    plot.configure_mesh()
        .x_desc("offered messages per second")
        .y_desc("latency (ms)")
        .label_style(("sans-serif", 14))
        .draw()?;
    let series: [Series; 4] = [
        ("chat p50", chat, |s| s.p50_ms, BLUE),
        ("chat p99", chat, |s| s.p99_ms, RED),
        ("WebSocket echo p50", echo, |s| s.p50_ms, GREEN),
        ("WebSocket echo p99", echo, |s| s.p99_ms, MAGENTA),
    ];
    for (label, steps, value, color) in series {
        let points: Vec<(f64, f64)> = steps
            .iter()
            .map(|s| (s.offered_per_sec, value(s).min(max_ms * 1.1)))
            .collect();
        plot.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        plot.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    plot.configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
