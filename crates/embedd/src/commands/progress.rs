//! How far a long job is (a corpus embedded, a vocabulary distilled): a bar with rate and time left on a terminal, a plain line every few
//! seconds otherwise (a log file or CI keeps those readable).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the plain lines come.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// The job's progress, shown on standard error.
pub enum Progress {
    /// A terminal: indicatif's bar.
    Bar(ProgressBar),
    /// Anything else: a line now and then.
    Lines {
        /// What is counted (`texts`, `tokens`).
        unit: &'static str,
        /// Records in the job.
        total: u64,
        /// Records finished, this run's and earlier runs'.
        done: u64,
        /// Records finished by earlier runs, which the rate leaves out.
        resumed: u64,
        /// When this run began.
        started: Instant,
        /// When the last line was written.
        last: Instant,
    },
}

impl Progress {
    /// Start at `done` of `total` records, each a `unit` (more than 0 done when resuming).
    pub fn new(total: u64, done: u64, unit: &'static str) -> Self {
        let now = Instant::now();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total).with_position(done);
            bar.set_style(
                ProgressStyle::with_template(
                    &format!(
                        "{{bar:40.cyan/blue}} {{human_pos}}/{{human_len}} {unit}  {{per_sec}}  eta {{eta}}"
                    ),
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            // Rate and ETA from this run's work only, not the resumed part.
            bar.reset_eta();
            return Self::Bar(bar);
        }
        Self::Lines {
            unit,
            total,
            done,
            resumed: done,
            started: now,
            last: now,
        }
    }

    /// `count` more records are finished.
    pub fn advance(&mut self, count: u64) {
        match self {
            Self::Bar(bar) => bar.inc(count),
            Self::Lines { done, last, .. } => {
                *done += count;
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    self.line();
                }
            }
        }
    }

    /// The job is finished (or stopped): clear the bar, or write the last line.
    pub fn finish(&self) {
        match self {
            Self::Bar(bar) => bar.finish_and_clear(),
            Self::Lines { .. } => self.line(),
        }
    }

    fn line(&self) {
        let Self::Lines {
            unit,
            total,
            done,
            resumed,
            started,
            ..
        } = self
        else {
            return;
        };
        let seconds = started.elapsed().as_secs_f64();
        let rate = (done - resumed) as f64 / seconds.max(1e-3);
        let percent = 100.0 * *done as f64 / (*total).max(1) as f64;
        let left = if rate > 0.0 {
            let secs = (total - done) as f64 / rate;
            humantime::format_duration(Duration::from_secs(secs.round() as u64)).to_string()
        } else {
            "?".to_owned()
        };
        eprintln!("{done}/{total} {unit} ({percent:.1}%), {rate:.0}/s, eta {left}");
    }
}
