//! The demo's progress on stderr: one line per stage (a spinner, or a bar where the amount of
//! work is known), kept with its duration once done. `indicatif` draws nothing when stderr is
//! not a terminal, so logs and pipes stay clean; the stage timings go in the summary anyway.
//! The spinner is coloured only where logs are (`passerelle_settings::use_colour`: a terminal,
//! and no `NO_COLOR`).

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner redraws while nothing moves.
const TICK: Duration = Duration::from_millis(120);

/// One finished stage and how long it took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageTime {
    pub stage: &'static str,
    pub seconds: f64,
}

/// The progress display and the stage timings.
#[derive(Debug)]
pub struct Progress {
    multi: MultiProgress,
    stages: Vec<StageTime>,
}

/// A stage in progress.
#[derive(Debug)]
pub struct Stage {
    pub bar: ProgressBar,
    name: &'static str,
    started: Instant,
}

/// The spinner's placeholder: cyan where colours are allowed.
fn spinner() -> &'static str {
    if passerelle_settings::use_colour(&std::io::stderr()) {
        "{spinner:.cyan}"
    } else {
        "{spinner}"
    }
}

impl Progress {
    pub fn new() -> Progress {
        Progress { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), stages: Vec::new() }
    }

    /// A stage whose amount of work is unknown (a spinner).
    pub fn spinner(&self, name: &'static str, label: &'static str) -> Stage {
        let bar = self.multi.add(ProgressBar::new_spinner());
        let template = format!("{} {{prefix:<24}} {{msg}}", spinner());
        bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
        self.start(bar, name, label)
    }

    /// A stage of `len` units (`unit`: persons, chunks…).
    pub fn bar(&self, name: &'static str, label: &'static str, len: u64, unit: &'static str) -> Stage {
        let bar = self.multi.add(ProgressBar::new(len));
        let template = format!("{} {{prefix:<24}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}", spinner());
        bar.set_style(ProgressStyle::with_template(&template).expect("a valid template").progress_chars("=> "));
        self.start(bar, name, label)
    }

    fn start(&self, bar: ProgressBar, name: &'static str, label: &'static str) -> Stage {
        bar.set_prefix(label);
        bar.enable_steady_tick(TICK);
        Stage { bar, name, started: Instant::now() }
    }

    /// Ends a stage, leaving `done` on its line, and records its duration.
    pub fn finish(&mut self, stage: Stage, done: impl Into<String>) {
        let seconds = stage.started.elapsed().as_secs_f64();
        stage.bar.set_style(ProgressStyle::with_template("✓ {prefix:<24} {msg}").expect("a valid template"));
        stage.bar.finish_with_message(format!("{} ({seconds:.2} s)", done.into()));
        self.stages.push(StageTime { stage: stage.name, seconds });
    }

    /// Abandons a stage (the demo is failing): its line is cleared.
    pub fn abandon(&self, stage: Stage) {
        stage.bar.finish_and_clear();
    }

    /// The finished stages, in order.
    pub fn stages(&self) -> &[StageTime] {
        &self.stages
    }
}
