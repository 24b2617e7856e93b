//! Charts drawn on the server as SVG: the geometry is computed here, and the askama templates
//! `ops/_line_chart.html` and `ops/_bar_chart.html` write it out (no script, no external
//! library: the page reads the same without JavaScript).

/// A line chart's geometry in a `width` × `height` view box.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// View box width.
    pub width: u32,
    /// View box height.
    pub height: u32,
    /// Left edge of the plot area (room for the y labels).
    pub left: u32,
    /// Right edge of the plot area.
    pub right: u32,
    /// Top edge of the plot area.
    pub top: u32,
    /// Bottom edge of the plot area (room for the x labels).
    pub bottom: u32,
    /// One polyline per series.
    pub lines: Vec<Line>,
    /// Horizontal grid lines with their value labels.
    pub y_ticks: Vec<Tick>,
    /// Labels under the x axis.
    pub x_ticks: Vec<Tick>,
    /// What the chart shows, for screen readers (`<title>`).
    pub title: String,
}

/// One series drawn as a polyline.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its legend label.
    pub label: String,
    /// CSS class (its colour).
    pub class: &'static str,
    /// The SVG `points` attribute.
    pub points: String,
    /// Its last value, shown in the legend.
    pub last: String,
}

/// An axis tick: where, and what it says.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Position along its axis, in view-box units.
    pub at: f64,
    /// Its label.
    pub label: String,
}

/// One series to draw.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// CSS class.
    pub class: &'static str,
    /// Values, one per x position.
    pub values: &'a [f64],
}

/// A "nice" upper bound of the y axis for `max` (1, 2 or 5 × a power of ten), never below 1.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&c| c >= max)
        .unwrap_or(10.0 * magnitude)
}

/// A number as a short label (`12`, `2.5`).
fn short(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Lays out `series` (all of the same length) over x labels `x_labels` (position index → label)
/// in a `width` × `height` view box.
pub fn line_chart(
    title: &str,
    series: &[Series<'_>],
    x_labels: &[(usize, String)],
    width: u32,
    height: u32,
) -> LineChart {
    let (left, right, top, bottom) = (44, width.saturating_sub(12), 12, height.saturating_sub(26));
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let ceiling = nice_ceiling(max);
    let plot_w = f64::from(right - left);
    let plot_h = f64::from(bottom - top);
    let x = |i: usize| {
        if n <= 1 {
            f64::from(left)
        } else {
            f64::from(left) + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| f64::from(bottom) - plot_h * (v / ceiling).clamp(0.0, 1.0);
    let lines = series
        .iter()
        .map(|s| Line {
            label: s.label.to_owned(),
            class: s.class,
            points: s
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
                .collect::<Vec<_>>()
                .join(" "),
            last: s
                .values
                .last()
                .map_or_else(|| "0".to_owned(), |&v| short(v)),
        })
        .collect();
    let y_ticks = (0..=4)
        .map(|k| {
            let v = ceiling * f64::from(k) / 4.0;
            Tick {
                at: y(v),
                label: short(v),
            }
        })
        .collect();
    let x_ticks = x_labels
        .iter()
        .filter(|(i, _)| *i < n.max(1))
        .map(|(i, label)| Tick {
            at: x(*i),
            label: label.clone(),
        })
        .collect();
    LineChart {
        width,
        height,
        left,
        right,
        top,
        bottom,
        lines,
        y_ticks,
        x_ticks,
        title: title.to_owned(),
    }
}

/// A horizontal bar chart's geometry.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// View box width.
    pub width: u32,
    /// View box height.
    pub height: u32,
    /// Where the bars start (room for the labels).
    pub left: u32,
    /// The bars, top to bottom.
    pub bars: Vec<Bar>,
    /// What the chart shows (`<title>`).
    pub title: String,
}

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Its label (left of the bar).
    pub label: String,
    /// Its value, written after the bar.
    pub value: String,
    /// Top of the bar.
    pub y: f64,
    /// Bar length.
    pub w: f64,
    /// Where its value label goes.
    pub value_x: f64,
}

/// Bar height plus gap, in view-box units.
const BAR_STEP: u32 = 26;

/// Lays out one bar per `(label, value)` in a view box `width` wide.
pub fn bar_chart(title: &str, items: &[(String, f64)], width: u32) -> BarChart {
    let left = 150;
    let room = f64::from(width.saturating_sub(left + 60));
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let bars = items
        .iter()
        .zip(0u32..)
        .map(|((label, value), i)| {
            let w = room * value / max;
            Bar {
                label: label.clone(),
                value: short(*value),
                y: f64::from(6 + i * BAR_STEP),
                w,
                value_x: f64::from(left) + w + 6.0,
            }
        })
        .collect();
    let rows = u32::try_from(items.len()).unwrap_or(u32::MAX);
    BarChart {
        width,
        height: 12 + rows.saturating_mul(BAR_STEP),
        left,
        bars,
        title: title.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(17.0), 20.0);
        assert_eq!(nice_ceiling(100.0), 100.0);
    }

    #[test]
    fn a_line_spans_the_plot_and_its_peak_touches_the_top() {
        let values = [0.0, 5.0, 10.0];
        let chart = line_chart(
            "t",
            &[Series {
                label: "a",
                class: "c",
                values: &values,
            }],
            &[(0, "00:00".into())],
            400,
            200,
        );
        assert_eq!(chart.lines[0].points, "44.0,174.0 216.0,93.0 388.0,12.0");
        assert_eq!(chart.y_ticks.last().map(|t| t.label.as_str()), Some("10"));
        assert_eq!(chart.lines[0].last, "10");
    }
}
