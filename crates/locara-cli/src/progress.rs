//! Download progress bars: drawn on standard error when it is a terminal, never with `--json` or
//! `--quiet` (nor in a pipe or a log), so scripted output stays clean.

use std::io::IsTerminal as _;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A set of download bars, or nothing when bars are not wanted.
#[derive(Debug, Clone)]
pub struct Downloads {
    multi: Option<MultiProgress>,
}

impl Downloads {
    /// Bars on standard error if it is a terminal and neither `json` nor `quiet` is set.
    pub fn new(json: bool, quiet: bool) -> Self {
        let shown = !json && !quiet && std::io::stderr().is_terminal();
        Self {
            multi: shown.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Whether bars are drawn.
    pub fn shown(&self) -> bool {
        self.multi.is_some()
    }

    /// A bar for one download labelled `label` (a hidden one when bars are not drawn).
    pub fn bar(&self, label: &str) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = multi.add(ProgressBar::new(0));
        let style = ProgressStyle::with_template(
            "{prefix:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        bar
    }
}

/// Feeds a bar from `(received, total)` callbacks.
pub fn updater(bar: &ProgressBar) -> impl FnMut(u64, Option<u64>) + Send + use<> {
    let bar = bar.clone();
    move |received, total| {
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(received);
    }
}
