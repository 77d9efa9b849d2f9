//! An indenting code writer for the generators, Python and C alike.
//!
//! A [`Writer`] knows the column it writes at, so a generator says what
//! a line is, not how far it is indented: [`Writer::line`] writes one
//! line at the current depth, [`Writer::block`] writes a head line and a
//! body one step deeper, [`Writer::comment`] and [`Writer::docstring`]
//! turn a doc comment of the description into a wrapped comment or
//! docstring through the one doc-text pipeline ([`crate::text`]). The
//! column is absolute (a writer for a block slot of a template starts at
//! the slot's column), so wrapping to the language's width is right
//! wherever the text lands.

use crate::text::{doc_paragraphs, wrap};

/// The widest line of a generated Python file (PEP 8's, as Xen's modules).
pub const PYTHON_WIDTH: usize = 79;

/// The widest line of a generated C file.
pub const C_WIDTH: usize = 80;

/// One indentation step.
pub const STEP: usize = 4;

/// The language a writer's comments are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `#` comments and `"""` docstrings.
    Python,
    /// `/* ... */` comments.
    C,
}

/// Text written line by line at a depth that blocks change.
#[derive(Debug, Clone)]
pub struct Writer {
    out: String,
    column: usize,
    lang: Lang,
}

impl Writer {
    /// A writer for Python at `column`.
    pub fn python(column: usize) -> Writer {
        Writer {
            out: String::new(),
            column,
            lang: Lang::Python,
        }
    }

    /// A writer for C at column 0.
    pub fn c() -> Writer {
        Writer {
            out: String::new(),
            column: 0,
            lang: Lang::C,
        }
    }

    /// The column lines start at.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The widest line of the language: [`PYTHON_WIDTH`] or [`C_WIDTH`].
    pub fn width(&self) -> usize {
        match self.lang {
            Lang::Python => PYTHON_WIDTH,
            Lang::C => C_WIDTH,
        }
    }

    /// The indentation of a line at the current depth.
    pub fn indent(&self) -> String {
        " ".repeat(self.column)
    }

    /// One line (or several, split at `\n`) at the current depth; an
    /// empty line stays empty.
    pub fn line(&mut self, text: impl AsRef<str>) -> &mut Self {
        for l in text.as_ref().split('\n') {
            if !l.is_empty() {
                self.out.push_str(&self.indent());
                self.out.push_str(l);
            }
            self.out.push('\n');
        }
        self
    }

    /// An empty line.
    pub fn blank(&mut self) -> &mut Self {
        self.out.push('\n');
        self
    }

    /// `body` one step deeper than the current depth.
    pub fn indented(&mut self, body: impl FnOnce(&mut Writer)) -> &mut Self {
        self.column += STEP;
        body(self);
        self.column -= STEP;
        self
    }

    /// A head line (`if x:`, `def f(self):`) and its body one step deeper.
    pub fn block(&mut self, head: impl AsRef<str>, body: impl FnOnce(&mut Writer)) -> &mut Self {
        self.line(head);
        self.indented(body)
    }

    /// Text written elsewhere at this writer's depth (another writer's
    /// [`Writer::finish`], a rendered template), appended as it is.
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self
    }

    /// A comment from a doc comment of the description (rustdoc markup
    /// removed, paragraphs kept); nothing for an empty doc.
    pub fn comment(&mut self, doc: &str) -> &mut Self {
        let paragraphs = doc_paragraphs(doc);
        self.comment_paragraphs(&paragraphs)
    }

    /// A comment of plain paragraphs, wrapped to [`Writer::width`]: in Python `# `
    /// lines with a `#` line between paragraphs; in C `/* one line */`
    /// when it fits, else a ` * ` block with a ` *` line between
    /// paragraphs.
    pub fn comment_paragraphs(&mut self, paragraphs: &[String]) -> &mut Self {
        let paragraphs: Vec<String> = paragraphs
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| match self.lang {
                Lang::C => p.replace("*/", "* /"),
                Lang::Python => p.clone(),
            })
            .collect();
        if paragraphs.is_empty() {
            return self;
        }
        match self.lang {
            Lang::Python => {
                for (i, p) in paragraphs.iter().enumerate() {
                    if i > 0 {
                        self.line("#");
                    }
                    for l in wrap(p, self.width() - self.column - 2) {
                        self.line(format!("# {l}"));
                    }
                }
            }
            Lang::C => {
                if let [one] = &paragraphs[..] {
                    let line = format!("/* {one} */");
                    if self.column + line.chars().count() <= self.width() {
                        return self.line(line);
                    }
                }
                self.line("/*");
                for (i, p) in paragraphs.iter().enumerate() {
                    if i > 0 {
                        self.line(" *");
                    }
                    for l in wrap(p, self.width() - self.column - 3) {
                        self.line(format!(" * {l}"));
                    }
                }
                self.line(" */");
            }
        }
        self
    }

    /// A Python docstring from a doc comment: `"""text"""` on one line
    /// when it fits, else the wrapped paragraphs between `"""` lines.
    pub fn docstring(&mut self, doc: &str) -> &mut Self {
        let paragraphs: Vec<String> = doc_paragraphs(doc)
            .iter()
            .map(|p| p.replace('\\', "\\\\").replace("\"\"\"", "'''"))
            .collect();
        if let [one] = &paragraphs[..] {
            if self.column + one.chars().count() + 6 <= self.width() && !one.ends_with('"') {
                return self.line(format!("\"\"\"{one}\"\"\""));
            }
        }
        self.line("\"\"\"");
        for (i, p) in paragraphs.iter().enumerate() {
            if i > 0 {
                self.blank();
            }
            for l in wrap(p, self.width() - self.column) {
                self.line(l);
            }
        }
        self.line("\"\"\"")
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_indent_and_blank_lines_stay_empty() {
        let mut w = Writer::python(4);
        w.block("def f(self):", |w| {
            w.line("x = 1").blank().block("if x:", |w| {
                w.line("return x");
            });
        });
        assert_eq!(
            w.finish(),
            "    def f(self):\n        x = 1\n\n        if x:\n            return x\n"
        );
    }

    #[test]
    fn comments_lose_rustdoc_markup_and_wrap_at_their_column() {
        let mut w = Writer::python(0);
        w.comment("Zero padding up to the next multiple of\n [`REC_ALIGN`] octets.\n\n The `end`.");
        assert_eq!(
            w.finish(),
            "# Zero padding up to the next multiple of REC_ALIGN octets.\n#\n# The end.\n"
        );
        let mut w = Writer::python(70);
        w.comment("a b c d e f g h");
        let pad = " ".repeat(70);
        assert_eq!(w.finish(), format!("{pad}# a b c d\n{pad}# e f g h\n"));
        let mut w = Writer::c();
        w.comment("One [`X`] line.");
        w.indented(|w| {
            w.comment(&"word ".repeat(20));
        });
        let c = w.finish();
        assert!(
            c.starts_with("/* One X line. */\n    /*\n     * word word"),
            "{c}"
        );
        assert!(c.lines().all(|l| l.len() <= C_WIDTH), "{c}");
        assert!(c.ends_with("     */\n"), "{c}");
    }

    #[test]
    fn docstrings_fit_one_line_or_wrap() {
        let mut w = Writer::python(8);
        w.docstring("Short [`X`].");
        assert_eq!(w.finish(), "        \"\"\"Short X.\"\"\"\n");
        let mut w = Writer::python(8);
        w.docstring(&"word ".repeat(20));
        let d = w.finish();
        assert!(d.starts_with("        \"\"\"\n        word word"), "{d}");
        assert!(d.ends_with("\n        \"\"\"\n"), "{d}");
        assert!(d.lines().all(|l| l.len() <= PYTHON_WIDTH), "{d}");
    }
}
