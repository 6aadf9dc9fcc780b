//! The one renderer: every command's result is a value that prints either for people or, with `--json`,
//! as JSON with stable field names. Results go to stdout; warnings and errors always go to stderr, so
//! `--json` output stays parseable.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, IsTerminal as _, Write};

use serde::Serialize;

/// A command's result: serialisable for `--json`, and printable for people.
pub trait Render: Serialize {
    /// Writes the human-readable form.
    fn human(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// Where and how results, warnings and prompts go.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Human output, or JSON when `json` is set.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether the user may be asked something: never with `--json` or when stdin is not a terminal.
    pub fn can_prompt(&self) -> bool {
        !self.json && io::stdin().is_terminal()
    }

    /// Prints a result on stdout; a closed stdout (`| head`) is not an error.
    pub fn print<R: Render>(&self, result: &R) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        let written = if self.json {
            serde_json::to_writer_pretty(&mut stdout, result)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(stdout))
        } else {
            result.human(&mut stdout)
        };
        match written.and_then(|()| stdout.flush()) {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    /// Prints a line of progress while a command waits: on stdout for people, on stderr with `--json` (so
    /// stdout stays one JSON document).
    pub fn progress(&self, message: impl fmt::Display) {
        if self.json {
            let _ = writeln!(io::stderr().lock(), "{message}");
        } else {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(stdout, "{message}").and_then(|()| stdout.flush());
        }
    }

    /// Prints `warning: <message>` on stderr.
    pub fn warn(&self, message: impl fmt::Display) {
        let _ = writeln!(io::stderr().lock(), "warning: {message}");
    }
}

/// `text` with control characters (terminal escapes, line breaks) replaced by spaces, for showing text a
/// registry sent, so it cannot redraw the terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Many lines of text a registry sent (a build log) for showing: lossy UTF-8, line breaks and tabs kept,
/// carriage returns dropped and every other control character replaced by a space, so it cannot redraw
/// or reconfigure the terminal.
pub fn printable_lines(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| c != '\r')
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Writes `rows` under `header` in columns two spaces apart, each as wide as its widest cell.
pub fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut write_row = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut line = String::new();
        for (cell, width) in cells.zip(&widths) {
            let cell = printable(cell);
            line.push_str(&cell);
            let padding = width.saturating_sub(cell.chars().count()) + 2;
            line.extend(std::iter::repeat_n(' ', padding));
        }
        writeln!(out, "{}", line.trim_end())
    };
    write_row(&mut header.iter().copied())?;
    for row in rows {
        write_row(&mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_a_registry_cannot_carry_terminal_escapes() {
        assert_eq!(printable("acme.example"), "acme.example");
        assert_eq!(printable("a\u{1b}[2Jb\nc"), "a [2Jb c");
    }

    #[test]
    fn logs_keep_their_lines_but_not_terminal_controls() {
        assert_eq!(
            printable_lines(b"step 1\r\n\tok\n\x1b[2Jdone\x07\n"),
            "step 1\n\tok\n [2Jdone \n"
        );
        assert_eq!(printable_lines(b"bad \xff byte"), "bad \u{fffd} byte");
    }

    #[test]
    fn tables_align_columns_to_the_widest_cell() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &["ID", "NAME"],
            &[
                vec!["1".to_owned(), "login session".to_owned()],
                vec!["12".to_owned(), "ci".to_owned()],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID  NAME\n1   login session\n12  ci\n"
        );
    }
}
