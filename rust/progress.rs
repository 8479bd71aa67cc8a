//! A one-line progress bar on stderr: files done, files per second, time left.

use std::io::Write;
use std::time::{Duration, Instant};

pub struct Progress {
    total: usize,
    started: Instant,
    last_drawn: Option<Instant>,
    enabled: bool,
}

const REDRAW_EVERY: Duration = Duration::from_millis(200);
const WIDTH: usize = 28;

impl Progress {
    pub fn new(total: usize, enabled: bool) -> Self {
        Progress {
            total,
            started: Instant::now(),
            last_drawn: None,
            enabled,
        }
    }

    pub fn line(&self, done: usize) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / elapsed;
        let filled = (WIDTH * done).checked_div(self.total).unwrap_or(WIDTH);
        let eta = if rate > 0.0 {
            (self.total - done) as f64 / rate
        } else {
            f64::NAN
        };
        format!(
            "scan [{}{}] {done}/{} files  {rate:.0} files/s  ETA {}",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            self.total,
            format_seconds(eta)
        )
    }

    pub fn update(&mut self, done: usize) {
        if !self.enabled || self.last_drawn.is_some_and(|t| t.elapsed() < REDRAW_EVERY) {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{}\x1b[K", self.line(done));
        let _ = err.flush();
    }

    pub fn finish(&mut self, done: usize) {
        if self.enabled {
            self.last_drawn = None;
            self.update(done);
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn format_seconds(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts() {
        let p = Progress::new(10, false);
        let line = p.line(5);
        assert!(line.contains("5/10 files"), "{line}");
        assert!(line.contains(&"#".repeat(14)));
        assert_eq!(format_seconds(3725.0), "1h02m");
        assert_eq!(format_seconds(f64::NAN), "?");
    }
}
