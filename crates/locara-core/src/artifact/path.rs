//! Paths inside an artifact.

use std::fmt;
use std::str::FromStr;

/// Longest `name` field of a ustar header.
pub(crate) const USTAR_NAME_LEN: usize = 100;
/// Longest `prefix` field of a ustar header.
pub(crate) const USTAR_PREFIX_LEN: usize = 155;

/// A path inside an artifact: relative, UTF-8, `/`-separated, with no empty, `.` or `..` component,
/// no backslash and no NUL.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactPath(String);

/// Why a string is not an [`ArtifactPath`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    /// The path is the empty string.
    #[error("the path is empty; name a file or directory inside the artifact")]
    Empty,
    /// The path starts with `/`.
    #[error("the path is absolute; artifact paths are relative to the artifact root")]
    Absolute,
    /// A component is `..`.
    #[error("a component is \"..\"; artifact paths may not climb out of the artifact")]
    ParentComponent,
    /// A component is `.`.
    #[error("a component is \".\"; write the path without \"./\"")]
    CurrentComponent,
    /// Two slashes in a row, or a trailing slash.
    #[error("the path has an empty component (\"//\" or a trailing \"/\")")]
    EmptyComponent,
    /// The path holds a backslash.
    #[error("the path holds a backslash; separate components with \"/\" only")]
    Backslash,
    /// The path holds a NUL byte.
    #[error("the path holds a NUL byte")]
    Nul,
}

impl ArtifactPath {
    /// Checks `path` against the artifact path rules.
    pub fn new(path: &str) -> Result<Self, PathProblem> {
        check_path(path)?;
        Ok(Self(path.to_owned()))
    }

    /// The path as written in the archive.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent directory, or `None` at the artifact root.
    pub fn parent(&self) -> Option<ArtifactPath> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| ArtifactPath(parent.to_owned()))
    }

    /// Every ancestor directory, outermost first.
    pub fn ancestors(&self) -> impl Iterator<Item = ArtifactPath> + '_ {
        self.0
            .match_indices('/')
            .map(|(index, _)| ArtifactPath(self.0[..index].to_owned()))
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactPath({:?})", self.0)
    }
}

impl FromStr for ArtifactPath {
    type Err = PathProblem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for ArtifactPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The first rule `path` breaks, if any.
pub(crate) fn check_path(path: &str) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    if path.contains('\0') {
        return Err(PathProblem::Nul);
    }
    for component in path.split('/') {
        match component {
            ".." => return Err(PathProblem::ParentComponent),
            "." => return Err(PathProblem::CurrentComponent),
            "" => return Err(PathProblem::EmptyComponent),
            _ => {}
        }
    }
    if path.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    Ok(())
}

/// Splits `path` into ustar `(prefix, name)` fields: the whole path in `name` when it fits, otherwise at
/// the last `/` that leaves a prefix of at most 155 bytes and a non-empty name of at most 100 bytes.
pub(crate) fn ustar_split(path: &str) -> Option<(&str, &str)> {
    if path.len() <= USTAR_NAME_LEN {
        return Some(("", path));
    }
    path.match_indices('/')
        .map(|(index, _)| index)
        .rfind(|&index| index <= USTAR_PREFIX_LEN)
        .map(|index| (&path[..index], &path[index + 1..]))
        .filter(|(_, name)| !name.is_empty() && name.len() <= USTAR_NAME_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for path in ["locara.toml", "bin/app", "a/b/c.txt", "...", "a..b", "é/ü"] {
            assert_eq!(ArtifactPath::new(path).unwrap().as_str(), path);
        }
    }

    #[test]
    fn refuses_each_broken_rule() {
        let cases = [
            ("", PathProblem::Empty),
            ("/etc/passwd", PathProblem::Absolute),
            ("a/../b", PathProblem::ParentComponent),
            ("..", PathProblem::ParentComponent),
            ("./a", PathProblem::CurrentComponent),
            ("a//b", PathProblem::EmptyComponent),
            ("a/", PathProblem::EmptyComponent),
            ("a\\b", PathProblem::Backslash),
            ("a\0b", PathProblem::Nul),
        ];
        for (path, problem) in cases {
            assert_eq!(ArtifactPath::new(path), Err(problem), "{path:?}");
        }
    }

    #[test]
    fn ancestors_are_outermost_first() {
        let path = ArtifactPath::new("a/b/c").unwrap();
        let ancestors: Vec<String> = path.ancestors().map(|a| a.to_string()).collect();
        assert_eq!(ancestors, ["a", "a/b"]);
        assert_eq!(path.parent().unwrap().as_str(), "a/b");
        assert_eq!(ArtifactPath::new("a").unwrap().parent(), None);
    }

    #[test]
    fn ustar_split_uses_longest_fitting_prefix() {
        assert_eq!(ustar_split("short"), Some(("", "short")));
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(100));
        assert_eq!(ustar_split(&long).unwrap().1.len(), 100);
        let deep = format!("{}/{}/{}", "a".repeat(60), "b".repeat(60), "c".repeat(90));
        assert_eq!(ustar_split(&deep).unwrap().0.len(), 121);
        assert_eq!(ustar_split(&"x".repeat(101)), None);
        let too_long = format!("{}/{}", "d".repeat(156), "f".repeat(10));
        assert_eq!(ustar_split(&too_long), None);
    }
}
