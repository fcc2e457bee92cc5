//! SVG charts of the report, drawn with plotters.
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

const COLORS: [RGBColor; 4] =
    [RGBColor(90, 90, 90), RGBColor(214, 96, 77), RGBColor(67, 147, 195), RGBColor(120, 180, 90)];

/// Grouped bars on a log scale: one group per label, one bar per series.
pub fn grouped_bars(
    path: &Path,
    title: &str,
    unit: &str,
    series: &[&str],
    groups: &[(String, Vec<f64>)],
) -> Result<()> {
    let width = 160 + 90 * groups.len() as u32;
    let root = SVGBackend::new(path, (width.max(640), 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let max = groups.iter().flat_map(|(_, v)| v.iter().copied()).fold(1.0, f64::max) * 3.0;
    let min = groups.iter().flat_map(|(_, v)| v.iter().copied()).fold(f64::MAX, f64::min).max(1e-3) / 3.0;
    let n = series.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..groups.len() as f64 - 0.5, (min..max).log_scale())
        .map_err(|e| anyhow!("{e:?}"))?;
    let labels: Vec<String> = groups.iter().map(|(l, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(unit)
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    for (s, name) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        chart
            .draw_series(groups.iter().enumerate().map(|(g, (_, v))| {
                let x0 = g as f64 - 0.4 + 0.8 * s as f64 / n;
                let x1 = x0 + 0.8 / n;
                Rectangle::new([(x0, min), (x1, v[s].max(min))], color.filled())
            }))
            .map_err(|e| anyhow!("{e:?}"))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}
