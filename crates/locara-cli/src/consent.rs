//! Consent: what an app may do, in plain words, and the user's answer.
//!
//! Before the first install of an app, and before any release that can do more than what was granted, the
//! user sees each capability as a sentence ("read files in ~/Notes", "connect to api.example.com on port
//! 443", "run /usr/bin/git", "use the model minilm, 90 MB"). The answer comes, in this order, from: no
//! question needed (nothing new is asked for), an allow rule of the policy file covering everything,
//! `--yes`, or a question on the terminal. Without any of them nothing is installed and the error says
//! how to answer. Declining installs nothing.

use std::io::{self, BufRead as _, Write as _};

use locara_client::policy::{GrantDecision, Policy};
use locara_client::state::GrantSource;
use locara_core::capabilities::{Capabilities, Expansion, expansions};
use locara_core::manifest::Manifest;
use locara_core::names::AppName;

use crate::output::printable;

/// Every capability of `manifest` in plain words; models with their size.
pub fn describe(manifest: &Manifest) -> Vec<String> {
    describe_capabilities(manifest.capabilities(), manifest)
}

/// `capabilities` in plain words, sizes of models taken from `manifest`'s `[[models]]`.
pub fn describe_capabilities(capabilities: &Capabilities, manifest: &Manifest) -> Vec<String> {
    let mut lines: Vec<String> = capabilities
        .files
        .iter()
        .map(|grant| grant.describe())
        .collect();
    let mut without_models = capabilities.clone();
    without_models.files.clear();
    without_models.models.clear();
    lines.extend(without_models.describe());
    lines.extend(
        capabilities
            .models
            .iter()
            .map(|model| describe_model(model, manifest)),
    );
    lines
}

fn describe_model(model: &locara_core::capabilities::ModelName, manifest: &Manifest) -> String {
    match manifest.models().iter().find(|m| m.name() == model) {
        Some(found) => format!("{}, {}", model.describe(), human_size(found.size())),
        None => model.describe(),
    }
}

/// `bytes` as people read it: "90 MB", "1.2 GB", "512 bytes" (SI units, as model sizes are given).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1_000)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let whole = bytes / size;
            let tenth = (bytes % size) * 10 / size;
            return if whole >= 10 || tenth == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenth} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

/// `expansions` in plain words ("newly asks to …" without the prefix), model sizes from `manifest`.
pub fn describe_expansions(found: &[Expansion], manifest: &Manifest) -> Vec<String> {
    found
        .iter()
        .map(|expansion| match expansion {
            Expansion::Model(model) => describe_model(model, manifest),
            other => other
                .to_string()
                .trim_start_matches("newly asks to ")
                .to_owned(),
        })
        .collect()
}

/// What one app's install or update asks of the user.
#[derive(Debug, Clone)]
pub struct Question {
    /// The app.
    pub app: AppName,
    /// The question's first line: `Install acme/notes 1.2.0?` or `Update acme/notes 1.1.0 → 1.2.0 (minor release)?`.
    pub action: String,
    /// What is asked about, as a noun: `acme/notes 1.2.0`.
    pub subject: String,
    /// The capabilities not granted before, in plain words (all of them on a first install).
    pub new_capabilities: Vec<String>,
    /// The capabilities already granted that stay, in plain words.
    pub kept_capabilities: Vec<String>,
    /// What is new beyond what was granted (for the policy check).
    pub wanted: Capabilities,
    /// Whether the question is only about the size of the update (no capability is new).
    pub only_version: bool,
    /// Who is new about the release's signer, in plain words, when the release is signed by someone who
    /// never signed this app's installed release (see [`Question::with_new_signer`]).
    pub new_signer: Option<String>,
}

impl Question {
    /// The question for `manifest`, given the capabilities granted before (`None`: first install).
    pub fn new(
        app: &AppName,
        action: String,
        manifest: &Manifest,
        granted: Option<&Capabilities>,
    ) -> Self {
        let wanted = manifest.capabilities().clone();
        let (new_capabilities, kept_capabilities) = match granted {
            None => (describe(manifest), Vec::new()),
            Some(granted) => {
                let found = expansions(granted, &wanted);
                let new = describe_expansions(&found, manifest);
                let kept = describe(manifest)
                    .into_iter()
                    .filter(|line| !new.contains(line))
                    .collect();
                (new, kept)
            }
        };
        Self {
            app: app.clone(),
            subject: format!("{app} {}", manifest.app().version()),
            action,
            only_version: new_capabilities.is_empty(),
            new_capabilities,
            kept_capabilities,
            wanted,
            new_signer: None,
        }
    }

    /// The same question about a release signed by someone new (`signer`, in plain words): it always
    /// needs a yes from `--yes` or the terminal; no policy rule answers it.
    pub fn with_new_signer(mut self, signer: String) -> Self {
        self.only_version = false;
        self.new_signer = Some(signer);
        self
    }

    /// The text shown before the question.
    pub fn text(&self) -> String {
        let mut text = format!("{}\n", self.action);
        if let Some(signer) = &self.new_signer {
            text.push_str(&format!(
                "  NEW SIGNER: {}. A new maintainer is how hostile hand-overs happen; check who this is before you say yes.\n",
                printable(signer)
            ));
        }
        if self.new_capabilities.is_empty() {
            if self.kept_capabilities.is_empty() {
                text.push_str(
                    "  It asks for nothing beyond its own install and data directories.\n",
                );
            } else {
                text.push_str("  It asks for nothing new. It keeps what you granted:\n");
                for line in &self.kept_capabilities {
                    text.push_str(&format!("    - {}\n", printable(line)));
                }
            }
        } else {
            text.push_str(if self.kept_capabilities.is_empty() {
                "  It will be able to:\n"
            } else {
                "  It asks for MORE than you granted. New:\n"
            });
            for line in &self.new_capabilities {
                text.push_str(&format!("    + {}\n", printable(line)));
            }
            if !self.kept_capabilities.is_empty() {
                text.push_str("  Kept from before:\n");
                for line in &self.kept_capabilities {
                    text.push_str(&format!("    - {}\n", printable(line)));
                }
            }
        }
        text
    }
}

/// How questions are answered in this command.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// `--yes`.
    pub yes: bool,
    /// Whether a terminal may be asked.
    pub can_prompt: bool,
    /// The policy file.
    pub policy: &'a Policy,
}

/// The answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Go ahead; the grant came from here.
    Granted(GrantSource),
    /// The user said no.
    Declined,
    /// Nobody could answer: the message says how to.
    Unanswered(String),
}

/// Answers `question` by policy, `--yes` or the terminal (in that order after "nothing to ask").
/// `needs_question` is false when nothing requires a yes (no new capability and the policy's update
/// level allows the version change). Allow rules answer questions about capabilities only; a version
/// jump the update level does not allow is answered by `--yes` or the terminal.
pub fn answer(question: &Question, needs_question: bool, answering: &Answering) -> Answer {
    if !needs_question {
        return Answer::Granted(GrantSource::NoneNeeded);
    }
    if !question.new_capabilities.is_empty()
        && question.new_signer.is_none()
        && matches!(
            answering.policy.grant(&question.app, &question.wanted),
            GrantDecision::Allowed { .. }
        )
    {
        return Answer::Granted(GrantSource::Policy);
    }
    if answering.yes {
        return Answer::Granted(GrantSource::Yes);
    }
    if !answering.can_prompt {
        let what = if let Some(signer) = &question.new_signer {
            format!("it is {signer}")
        } else if question.new_capabilities.is_empty() {
            "the version change is larger than the update level allows".to_owned()
        } else {
            format!("it asks to {}", question.new_capabilities.join("; "))
        };
        let hint = if question.new_signer.is_some() {
            "run it on a terminal, or pass --yes once you know who the new signer is"
        } else if question.new_capabilities.is_empty() {
            "run it on a terminal, pass --yes, or raise `update` in the policy file"
        } else {
            "run it on a terminal, pass --yes, or add an [[allow]] rule covering it to the policy file"
        };
        return Answer::Unanswered(format!(
            "{} needs your consent ({what}) and there is no terminal to ask on; {hint} (docs/policy-and-lockfile.md)",
            question.subject
        ));
    }
    match ask(&question.text()) {
        Ok(true) => Answer::Granted(GrantSource::Prompt),
        Ok(false) => Answer::Declined,
        Err(error) => Answer::Unanswered(format!("could not read your answer: {error}")),
    }
}

/// Prints `text` and asks "Continue? [y/N]" on the terminal; anything but y/yes is no.
fn ask(text: &str) -> io::Result<bool> {
    let mut stderr = io::stderr().lock();
    write!(stderr, "{text}Continue? [y/N] ")?;
    stderr.flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(version: &str, network: &str) -> Manifest {
        Manifest::parse(&format!(
            r#"[app]
name = "acme/notes"
version = "{version}"
description = "d"
license = "MIT"
source = "https://git.example.com/acme/notes"

[build]
command = ["true"]
outputs = {{ "bin/x" = "out/x" }}
entry = "bin/x"

[capabilities]
files = [{{ path = "~/Notes", access = "read" }}]
network = [{network}]
models = ["minilm"]

[[models]]
name = "minilm"
digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
size = 90_000_000
urls = ["https://models.example.com/minilm"]
"#
        ))
        .unwrap()
    }

    #[test]
    fn a_first_install_lists_everything_in_plain_words_with_model_sizes() {
        let app: AppName = "acme/notes".parse().unwrap();
        let new = manifest("1.0.0", r#""api.example.com:443""#);
        let question = Question::new(&app, "Install?".into(), &new, None);
        assert_eq!(
            question.new_capabilities,
            [
                "read files in ~/Notes",
                "connect to api.example.com on port 443",
                "use the model minilm, 90 MB"
            ]
        );
        assert!(question.text().contains("It will be able to:"));
        assert_eq!(question.subject, "acme/notes 1.0.0");
    }

    #[test]
    fn an_update_shows_only_what_is_new_and_nothing_when_nothing_is() {
        let app: AppName = "acme/notes".parse().unwrap();
        let old = manifest("1.0.0", r#""api.example.com:443""#);
        let same = manifest("1.0.1", r#""api.example.com:443""#);
        let question = Question::new(&app, "Update?".into(), &same, Some(old.capabilities()));
        assert!(question.new_capabilities.is_empty());
        assert!(question.only_version);
        let wider = manifest(
            "1.1.0",
            r#""api.example.com:443", "telemetry.example.net:443""#,
        );
        let question = Question::new(&app, "Update?".into(), &wider, Some(old.capabilities()));
        assert_eq!(
            question.new_capabilities,
            ["connect to telemetry.example.net on port 443"]
        );
        let text = question.text();
        assert!(text.contains("MORE than you granted"), "{text}");
        assert!(
            text.contains("+ connect to telemetry.example.net"),
            "{text}"
        );
        assert!(text.contains("- read files in ~/Notes"), "{text}");
    }

    #[test]
    fn without_a_terminal_only_policy_or_yes_answer() {
        let app: AppName = "acme/notes".parse().unwrap();
        let new = manifest("1.0.0", r#""api.example.com:443""#);
        let question = Question::new(&app, "Install?".into(), &new, None);
        let empty = Policy::default();
        let nobody = Answering {
            yes: false,
            can_prompt: false,
            policy: &empty,
        };
        let Answer::Unanswered(message) = answer(&question, true, &nobody) else {
            panic!("answered without anybody");
        };
        assert!(
            message.contains("connect to api.example.com on port 443"),
            "{message}"
        );
        assert_eq!(
            answer(&question, false, &nobody),
            Answer::Granted(GrantSource::NoneNeeded)
        );
        let yes = Answering {
            yes: true,
            ..nobody
        };
        assert_eq!(
            answer(&question, true, &yes),
            Answer::Granted(GrantSource::Yes)
        );
        // Rules that cover only part of it do not answer; rules that cover all of it do.
        let partial = Policy::parse(
            "[[allow]]\napps = \"acme/*\"\nfiles = [{ path = \"~/Notes\", access = \"read\" }]\n",
            "policy.toml",
        )
        .unwrap();
        let partly = Answering {
            policy: &partial,
            ..nobody
        };
        assert!(matches!(
            answer(&question, true, &partly),
            Answer::Unanswered(_)
        ));
        let full = Policy::parse(
            "[[allow]]\napps = \"acme/*\"\nfiles = [{ path = \"~\", access = \"read\" }]\nnetwork = [\"api.example.com:443\"]\nmodels = [\"minilm\"]\n",
            "policy.toml",
        )
        .unwrap();
        let covered = Answering {
            policy: &full,
            ..nobody
        };
        assert_eq!(
            answer(&question, true, &covered),
            Answer::Granted(GrantSource::Policy)
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(90_000_000), "90 MB");
        assert_eq!(human_size(1_250_000_000), "1.2 GB");
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1_500), "1.5 kB");
    }
}
